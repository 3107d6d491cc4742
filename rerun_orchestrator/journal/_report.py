"""The run report (`run --report PATH`): every chunk of the plan as the journal holds it.

The contract's JSON, plus two keys per chunk that a user needs to act: `instance_ids`
(what reconciliation found: the proof that an ambiguous attempt applied) and `reason`
(why a chunk failed or is unknown, in words).

A chunk still in flight when a report is written is reported as ``unknown``: the contract
knows four states, and a chunk in flight at the end of a run is one whose outcome nobody
has seen (its process died, or the run was stopped mid-call). The next run reconciles it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ._model import ChunkRecord, ChunkStatus
from ._store import Journal

_REPORTED = {
    ChunkStatus.PENDING: "pending",
    ChunkStatus.IN_FLIGHT: "unknown",
    ChunkStatus.SUCCEEDED: "succeeded",
    ChunkStatus.FAILED: "failed",
    ChunkStatus.UNKNOWN: "unknown",
}


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
