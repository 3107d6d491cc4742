"""`MemoryJournal`: the `Journal` protocol in a dict, for tests and for embedding.

Same state machine and the same answers as `SqliteJournal` (the shared tests run both),
but nothing survives the process: use it where the caller keeps its own durable record,
or where resume does not matter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Self

from .._clock import Clock, SystemClock
from ..plan._model import Chunk
from ._errors import DayCoveredError, JournalError
from ._instances import DayInstance, MemoryDayInstances
from ._ledger import conflict
from ._model import (
    ChunkRecord,
    ChunkStatus,
    JobFactsEntry,
    JobIdentity,
    JournalMeta,
    PlanEntry,
)
from ._store import Screen, SyncSummary
from ._transitions import begin_attempt, settle

_ORPHANS_SHOWN = 100


class MemoryJournal(MemoryDayInstances):
    """A journal held in memory. `plan_name`/`plan_digest` only fill in `meta`."""

    def __init__(
        self, *, plan_name: str = "memory", plan_digest: str = "", clock: Clock | None = None
    ) -> None:
        self._clock = clock or SystemClock()
        self._meta = JournalMeta(plan_name, plan_digest, self._clock.wall(), 3)
        self._plans = {plan_name: PlanEntry(plan_name, plan_digest, None)}
        self._records: dict[str, ChunkRecord] = {}
        self._by_job: dict[JobIdentity, set[str]] = {}  # keys of each job's records
        self._proposed: dict[str, ChunkRecord] = {}
        self._orphans: list[str] = []
        self._facts: dict[JobIdentity, JobFactsEntry] = {}
        self._day_instances: dict[tuple[str, date], DayInstance] = {}
        self._closed = False

    @property
    def meta(self) -> JournalMeta:
        return self._meta

    def plans(self) -> list[PlanEntry]:
        return list(reversed(self._plans.values()))

    def job_facts(self) -> dict[JobIdentity, JobFactsEntry]:
        return dict(self._facts)

    def record_job_facts(
        self, facts: Iterable[JobFactsEntry], *, forget: Iterable[JobIdentity] = ()
    ) -> None:
        self._facts.update((entry.job, entry) for entry in facts)
        for job in forget:
            self._facts.pop(job, None)

    def start_generation(self, plan_name: str, *, seen: int | None = None) -> int:
        current = self._plans[plan_name].rerun_generation if plan_name in self._plans else 0
        if seen is not None and current > seen:
            return current
        top = max((r.generation for r in self._records.values()), default=0)
        known = max((p.rerun_generation for p in self._plans.values()), default=0)
        generation = max(top, known) + 1
        entry = self._plans.get(plan_name) or PlanEntry(plan_name, "", None)
        self._plans[plan_name] = dataclasses.replace(entry, rerun_generation=generation)
        return generation

    def job_records(self, job: JobIdentity, first: date, last: date) -> list[ChunkRecord]:
        found = [
            r
            for r in (self._records[key] for key in self._by_job.get(job, ()))
            if r.chunk.first_day <= last and r.chunk.last_day >= first
        ]
        return sorted(found, key=lambda r: r.chunk.first_day)

    def succeeded_days(
        self, job: JobIdentity, first: date, last: date, *, generation: int = 0
    ) -> list[tuple[str | None, int, int]] | None:
        by_plan: dict[str | None, tuple[int, int]] = {}
        for r in self.job_records(job, first, last):
            if r.status is ChunkStatus.SUCCEEDED and r.generation >= generation:
                a, b = max(first, r.chunk.first_day), min(last, r.chunk.last_day)
                days, records = by_plan.get(r.plan, (0, 0))
                by_plan[r.plan] = (days + (b - a).days + 1, records + 1)
        return [(plan, days, records) for plan, (days, records) in by_plan.items()]

    def propose(
        self, chunk: Chunk, *, plan: str | None, timezone: str | None, generation: int = 0
    ) -> ChunkRecord:
        existing = self.get(chunk.key)
        if existing is not None:
            return existing
        record = ChunkRecord(
            chunk,
            ChunkStatus.PENDING,
            updated_at=self._clock.wall(),
            plan=plan,
            timezone=timezone,
            generation=generation,
        )
        self._proposed[chunk.key] = record
        return record

    def sync(self, chunks: Iterable[Chunk]) -> SyncSummary:
        self._writable()
        now = self._clock.wall()
        planned: set[str] = set()
        added = 0
        for chunk in chunks:
            planned.add(chunk.key)
            if chunk.key not in self._records:
                self._put(ChunkRecord(chunk, ChunkStatus.PENDING, updated_at=now))
                added += 1
        self._orphans = [key for key in self._records if key not in planned]
        return SyncSummary(
            added=added,
            known=len(planned) - added,
            orphaned=tuple(self._orphans[:_ORPHANS_SHOWN]),
            orphaned_count=len(self._orphans),
        )

    def get(self, key: str) -> ChunkRecord | None:
        return self._records.get(key) or self._proposed.get(key)

    def records(
        self, statuses: Iterable[ChunkStatus] | None = None, *, plan_only: bool = False
    ) -> Iterator[ChunkRecord]:
        wanted = None if statuses is None else {ChunkStatus(s) for s in statuses}
        skip = set(self._orphans) if plan_only else set()
        # A snapshot, so that callers may write while they iterate (as with SQLite).
        for record in list(self._records.values()):
            if (wanted is None or record.status in wanted) and record.key not in skip:
                yield record

    def records_for(self, keys: Iterable[str]) -> Iterator[ChunkRecord | None]:
        for key in keys:
            yield self._records.get(key)

    def days_by_plan(self) -> list[tuple[str | None, ChunkStatus, int]]:
        sums: dict[tuple[str | None, ChunkStatus], int] = {}
        for r in self._records.values():
            sums[r.plan, r.status] = sums.get((r.plan, r.status), 0) + r.chunk.days
        return [(plan, status, days) for (plan, status), days in sums.items()]

    def orphans(self, limit: int | None = None) -> tuple[tuple[str, ...], int]:
        shown = self._orphans if limit is None else self._orphans[:limit]
        return tuple(shown), len(self._orphans)

    async def mark_in_flight(
        self, key: str, started_at: float, *, screen: Screen | None = None
    ) -> ChunkRecord:
        # Nothing to wait for, so no checkpoint either: as cheap as the dict write.
        self._writable()
        record = begin_attempt(self._require(key), started_at, self._clock.wall())
        chunk = record.chunk
        self._proposed.pop(key, None)
        others = self.job_records(JobIdentity.of(chunk), chunk.first_day, chunk.last_day)
        other = conflict(record, others)
        if other is not None:
            raise DayCoveredError(key, other.key, other.plan)
        if screen is not None and (refused := screen(record, others)) is not None:
            raise refused
        self._put(record)
        return record

    def record_outcome(
        self,
        key: str,
        status: ChunkStatus,
        *,
        request_id: str | None = None,
        code: str | int | None = None,
        message: str | None = None,
        reason: str | None = None,
        instance_ids: Iterable[int] = (),
    ) -> ChunkRecord:
        self._writable()
        record = settle(
            self._require(key),
            ChunkStatus(status),
            self._clock.wall(),
            request_id=request_id,
            code=code,
            message=message,
            reason=reason,
            instance_ids=instance_ids,
        )
        self._proposed.pop(key, None)
        self._put(record)
        return record

    def counts(self, *, plan_only: bool = False) -> dict[ChunkStatus, int]:
        skip = set(self._orphans) if plan_only else set()
        counts = dict.fromkeys(ChunkStatus, 0)
        for record in self._records.values():
            if record.key not in skip:
                counts[record.status] += 1
        return counts

    def flush(self) -> None:
        """Nothing to do: memory is as durable as it gets."""

    def close(self) -> None:
        """Refuse further writes; the records stay readable (handy in tests)."""
        self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MemoryJournal(plan={self._meta.plan_name!r}, chunks={len(self._records)})"

    def _put(self, record: ChunkRecord) -> None:
        self._records[record.key] = record
        self._by_job.setdefault(JobIdentity.of(record.chunk), set()).add(record.key)

    def _writable(self) -> None:
        if self._closed:
            raise JournalError("journal is closed")

    def _require(self, key: str) -> ChunkRecord:
        record = self.get(key)
        if record is None:
            raise JournalError(f"chunk {key} is not in the journal; sync the plan first")
        return record
