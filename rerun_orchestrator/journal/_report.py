"""The run report (`run --report PATH`): every chunk of the plan as the journal holds it.

The contract's JSON, plus two keys per chunk that a user needs to act: `instance_ids`
(what reconciliation found: the proof that an ambiguous attempt applied) and `reason`
(why a chunk failed or is unknown, in words).

A chunk still in flight when a report is written is reported as ``unknown``: the contract
knows four states, and a chunk in flight at the end of a run is one whose outcome nobody
has seen (its process died, or the run was stopped mid-call). The next run reconciles it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo

from ._instances import DayInstance
from ._ledger import Segment
from ._model import ChunkRecord, ChunkStatus
from ._store import Journal
from ._view import day_status, job_view, plan_counts, plan_jobs, viewed_chunks

if TYPE_CHECKING:  # `status` never builds a plan
    from ..plan._plan import Plan

_REPORTED = {
    ChunkStatus.PENDING: "pending",
    ChunkStatus.IN_FLIGHT: "unknown",
    ChunkStatus.SUCCEEDED: "succeeded",
    ChunkStatus.FAILED: "failed",
    ChunkStatus.UNKNOWN: "unknown",
}


_NEEDS_PERSON = ("failed", "rejected", "unknown")


def reported_status(status: ChunkStatus) -> str:
    """The contract's word for a journal state (in flight reads as unknown)."""
    return _REPORTED[status]


def chunk_entry(record: ChunkRecord) -> dict[str, Any]:
    """One chunk of the report: the contract's keys in its order, then ours."""
    chunk = record.chunk
    return {
        "key": chunk.key,
        "job_id": chunk.job_id,
        "start_date": chunk.start_date,
        "end_date": chunk.end_date,
        "status": reported_status(record.status),
        "attempts": record.attempts,
        "request_id": record.request_id,
        "code": record.code,
        "message": record.message,
        "instance_ids": list(record.instance_ids),
        "reason": record.reason,
        # where and when, so a row is read without the plan: ours beyond the contract
        "region": chunk.region,
        "namespace": chunk.namespace,
        "namespace_source": chunk.namespace_source,
        "group_id": chunk.group_id,
        "first_day": chunk.first_day.isoformat(),
        "last_day": chunk.last_day.isoformat(),
        "attempt_started_at": iso_time(record.attempt_started_at),
        "updated_at": iso_time(record.updated_at),
    }


def iso_time(wall: float | None) -> str | None:
    """Epoch seconds as an ISO 8601 UTC time (to the millisecond), or None."""
    if wall is None:
        return None
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class RunInfo:
    """The run that wrote a report: its id (the ``run_id`` of that run's log lines) and
    wall times (epoch seconds)."""

    run_id: str
    started_at: float
    ended_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.run_id,
            "started_at": iso_time(self.started_at),
            "ended_at": iso_time(self.ended_at),
        }


def build_report(
    journal: Journal, *, plan_name: str, keys: Iterable[str] | None = None
) -> dict[str, Any]:
    """The report of `journal`: the chunks of `keys` in that order (the plan's, so that
    orphans are left out), or every chunk in the order it was added.

    Keys the journal does not hold are skipped (a plan is synced before it runs, so
    there are none in a run's report).
    """
    records: Iterator[ChunkRecord | None] = (
        journal.records() if keys is None else journal.records_for(keys)
    )
    counts = dict.fromkeys(("total", "succeeded", "failed", "unknown", "pending"), 0)
    chunks = []
    for record in records:
        if record is None:
            continue
        entry = chunk_entry(record)
        counts["total"] += 1
        counts[entry["status"]] += 1
        chunks.append(entry)
    return {"plan": plan_name, "counts": counts, "chunks": chunks}


def write_plan_report(
    journal: Journal,
    plan: Plan,
    out: TextIO,
    *,
    generation: int = 0,
    run: RunInfo | None = None,
) -> None:
    """The report of `plan` as the ledger holds it, streamed to `out` as one JSON object.

    The contract's keys (`plan`, `counts`, `chunks`: the records that cover or refused the
    plan's days, whichever plan wrote them, then the chunks that would send its open days)
    and version 2's: `day_counts`, `covered_by` (covered days per plan) and `days`, one
    entry per (job, day) of the plan. Streamed, so a plan of a million days never sits
    in memory as a list. With `run`, a ``run`` object (id, started_at, ended_at) follows
    ``plan``.
    """
    zone = ZoneInfo(plan.timezone)
    counts = plan_counts(journal, plan, generation=generation)
    chunk_counts = _contract_counts(counts.chunks)
    out.write("{" + f'"plan": {json.dumps(plan.name)}, ')
    if run is not None:
        out.write(f'"run": {json.dumps(run.to_json())}, ')
    out.write(f'"counts": {json.dumps(chunk_counts)}, ')
    out.write(f'"day_counts": {json.dumps(_contract_counts(counts.days))}, ')
    out.write(f'"covered_by": {json.dumps(dict(counts.days_by_plan))},\n "chunks": [')
    first = True
    for job in plan_jobs(plan):
        for record in viewed_chunks(job_view(journal, job, generation=generation), zone):
            entry = chunk_entry(record) | {"plan": record.plan}
            out.write(("\n  " if first else ",\n  ") + json.dumps(entry))
            first = False
    out.write('\n ],\n "days": [')
    first = True
    by_instance: Counter[str] = Counter()
    failed: dict[int, list[dict[str, Any]]] = {}
    for job in plan_jobs(plan):
        view = job_view(journal, job, generation=generation)
        known = journal.day_instances({s.record.key for s in view.segments() if s.record})
        for segment in view.segments():
            for entry in _day_entries(job.job_id, segment, known):
                out.write(("\n  " if first else ",\n  ") + json.dumps(entry))
                first = False
                by_instance[entry["instance_status"] or "null"] += 1
                if entry["instance_status"] in _NEEDS_PERSON:
                    failed.setdefault(job.job_id, []).append(
                        {k: entry[k] for k in ("day", "instance_id", "instance_status", "reason")}
                    )
    out.write(f'\n ],\n "instance_counts": {json.dumps(dict(sorted(by_instance.items())))},')
    failed_jobs = [{"job_id": job_id, "days": days} for job_id, days in failed.items()]
    out.write(f'\n "failed_days": {json.dumps(failed_jobs)}}}\n')


def _contract_counts(by_status: Mapping[ChunkStatus, int]) -> dict[str, int]:
    counts = dict.fromkeys(("total", "succeeded", "failed", "unknown", "pending"), 0)
    for status, n in by_status.items():
        counts["total"] += n
        counts[reported_status(status)] += n
    return counts


def _day_entries(
    job_id: int, segment: Segment, known: Mapping[tuple[str, date], DayInstance]
) -> Iterator[dict[str, Any]]:
    record = segment.record
    status = reported_status(day_status(segment))
    single = record is not None and record.chunk.days == 1 and len(record.instance_ids) == 1
    for offset in range(segment.days):
        day = segment.first + timedelta(days=offset)
        seen = None if record is None else known.get((record.key, day))
        instance_id = record.instance_ids[0] if single and record is not None else None
        yield {
            "job_id": job_id,
            "day": day.isoformat(),
            "status": status,
            "chunk": None if record is None else record.key,
            "request_id": None if record is None else record.request_id,
            "instance_id": seen.instance_id if seen is not None else instance_id,
            "instance_status": None if seen is None else seen.status.value,
            "plan": None if record is None else record.plan,
        } | _instance_extras(seen)


def _instance_extras(seen: DayInstance | None) -> dict[str, Any]:
    """Ours beyond the contract's keys: when it ran, why it is unknown, retries."""
    if seen is None:
        return {"start_time": None, "end_time": None, "reason": None, "retries": 0}
    return {
        "start_time": seen.start_time,
        "end_time": seen.end_time,
        "reason": seen.reason,
        "retries": seen.retries,
    }
