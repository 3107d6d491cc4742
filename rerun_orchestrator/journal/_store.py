"""The storage interface the executor writes through. SQLite implements it (`_sqlite.py`);
a shared database can follow without touching the executor.

Durability contract: `mark_in_flight` is durable when it returns (the request is written
only after). It is a coroutine so that a journal may make the mark durable without
blocking the event loop, and may share one commit among concurrent marks (group commit,
as `SqliteJournal` does). Outcome writes may be batched, but `flush()` makes them durable,
and a chunk whose outcome is lost in a crash is still in_flight, hence reconciled, never
resent blindly. Reads see every write made before them, durable or not yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from ..plan._model import Chunk
from ._instances import DayInstance
from ._model import (
    ChunkRecord,
    ChunkStatus,
    JobFactsEntry,
    JobIdentity,
    JournalMeta,
    PlanEntry,
)

# A caller's check made atomically with a mark in flight: given the new record and the
# job's records over its days (as the mark's own invariant check reads them), an exception
# to refuse the mark with (nothing written), or None. The executor's separation rule.
Screen = Callable[[ChunkRecord, Sequence[ChunkRecord]], Exception | None]


@dataclass(frozen=True, slots=True)
class SyncSummary:
    """What `Journal.sync` found when matching a plan against the journal by key."""

    added: int  # chunks new to the journal (pending)
    known: int  # chunks already recorded (kept with their state)
    orphaned: tuple[str, ...]  # keys recorded earlier that the plan no longer has (never sent)
    # How many orphans in all: `orphaned` is capped so that a huge edit stays printable.
    orphaned_count: int = 0


class Journal(Protocol):
    @property
    def meta(self) -> JournalMeta:
        """Which plan this journal belongs to, and since when."""
        ...

    def plans(self) -> list[PlanEntry]:
        """Every plan that ran on this journal, most recent first."""
        ...

    def start_generation(self, plan_name: str, *, seen: int | None = None) -> int:
        """Begin a deliberate rerun of the plan's days (a generation above every record's,
        remembered in the plan's entry); returns it. `seen`: the plan's generation as the
        caller last read it; if another process has moved the plan past it since (a
        replica started at the same moment), that generation is joined and returned
        instead, in the same atomic step: two replicas never start two."""
        ...

    def job_facts(self) -> dict[JobIdentity, JobFactsEntry]:
        """What the pre-flight recorded about each good job it checked (``MaxConcurrency``,
        schedule, edition), with when it checked it; sees every write made before it."""
        ...

    def record_job_facts(
        self, facts: Iterable[JobFactsEntry], *, forget: Iterable[JobIdentity] = ()
    ) -> None:
        """Durably record the facts of good jobs (replacing older ones of the same job) and
        delete those of the jobs in `forget` (found bad: never left behind as good)."""
        ...

    def job_records(self, job: JobIdentity, first: date, last: date) -> list[ChunkRecord]:
        """Every record of `job` (any plan, any state) holding a day of `first..last`,
        ordered by first day; sees every write made before it."""
        ...

    def succeeded_days(
        self, job: JobIdentity, first: date, last: date, *, generation: int = 0
    ) -> list[tuple[str | None, int, int]] | None:
        """Per plan: (plan, days of `first..last` held by succeeded records of `job` of
        `generation` or later, how many such records), cheaply; None if the journal cannot
        tell cheaply now (then read `job_records`)."""
        ...

    def propose(
        self, chunk: Chunk, *, plan: str | None, timezone: str | None, generation: int = 0
    ) -> ChunkRecord:
        """The record to send `chunk` with: the journal's record of that key if it has one,
        else a new pending one held in memory (nothing is written before `mark_in_flight`)."""
        ...

    def sync(self, chunks: Iterable[Chunk]) -> SyncSummary:
        """Add chunks as pending records; keep what is known; report the others as orphans.

        The executor no longer needs it (chunks are derived from the ledger, see
        `propose`); kept for callers that want every chunk of a plan written up front.
        """
        ...

    def get(self, key: str) -> ChunkRecord | None: ...

    def records(
        self, statuses: Iterable[ChunkStatus] | None = None, *, plan_only: bool = False
    ) -> Iterator[ChunkRecord]:
        """Records (all, or those in `statuses`), in the order they were added.

        `plan_only` leaves out the orphans of the last `sync`: chunks the journal knows
        that the current plan no longer has, which must never be sent.
        """
        ...

    def records_for(self, keys: Iterable[str]) -> Iterator[ChunkRecord | None]:
        """Records of `keys`, in that order (None for a key the journal lacks)."""
        ...

    def days_by_plan(self) -> list[tuple[str | None, ChunkStatus, int]]:
        """(plan, state, days its records of that state hold), summed from the spans."""
        ...

    def orphans(self, limit: int | None = None) -> tuple[tuple[str, ...], int]:
        """Keys the last `sync` found in the journal but not in the plan (up to `limit`),
        and how many there are in all."""
        ...

    async def mark_in_flight(
        self, key: str, started_at: float, *, screen: Screen | None = None
    ) -> ChunkRecord:
        """Durably mark an attempt as begun (attempts += 1) *before* the request is written.

        Returns once the mark is durable. The transition is checked at once: a chunk that
        may not be sent raises before anything is awaited. `screen`, if given, is asked
        after the ledger's own check, against the same records in the same atomic step (no
        other writer, replica or task, can come in between): what it returns is raised,
        and nothing is written.

        Raises:
            DayCoveredError: another record covers one of the chunk's days (any plan,
                any chunking): nothing was written.
            InvalidTransitionError: the chunk is in flight, unknown or succeeded.
            JournalError: the chunk is not in the journal (nor proposed), or the journal
                cannot write.
        """
        ...

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
        """Record the result of an attempt or a reconciliation.

        `status` PENDING means "certainly not applied, safe to send again": a retryable answer
        (throttled, 503, never sent) or reconciliation that proved absence.
        A None `request_id` keeps the last one the journal holds.
        """
        ...

    def counts(self, *, plan_only: bool = False) -> dict[ChunkStatus, int]:
        """How many chunks are in each state (every state is a key); `plan_only` as in
        `records`. Cheaper than counting `records`."""
        ...

    def record_day_instances(self, items: Iterable[DayInstance]) -> None:
        """Store what each day's rerun instance did (upsert by chunk key and day), durably
        when it returns: the server prunes its history, the journal must not."""
        ...

    def day_instances(self, keys: Iterable[str]) -> dict[tuple[str, date], DayInstance]:
        """The stored instances of the records `keys`, by (chunk key, day)."""
        ...

    def all_day_instances(self) -> list[DayInstance]:
        """Every stored day instance, by job and day."""
        ...

    def flush(self) -> None:
        """Make every recorded outcome durable."""
        ...

    def close(self) -> None:
        """Flush, release the run lock and close."""
        ...
