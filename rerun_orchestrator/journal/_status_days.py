"""`status --days`: each day a journal's records hold, with what its rerun instance did,
filtered by job and status, so a person sees which days failed without the console."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterable
from datetime import date, timedelta
from typing import Any, Literal, TextIO

from ._model import ChunkRecord, ChunkStatus
from ._report import reported_status
from ._store import Journal

_NEEDS_PERSON = ("failed", "rejected", "unknown")


def status_days(journal: Journal) -> list[dict[str, Any]]:
    """The contract's `days` list of every record (pending ones hold no day)."""
    known = {(i.chunk_key, i.day): i for i in journal.all_day_instances()}
    days = []
    for record in journal.records():
        for entry in day_entries(record):
            seen = known.get((record.key, date.fromisoformat(entry["day"])))
            entry["reason"] = None
            if seen is not None:
                entry["instance_id"] = seen.instance_id
                entry["instance_status"] = seen.status.value
                entry["reason"] = seen.reason
            days.append(entry)
    return days


def day_entries(record: ChunkRecord) -> list[dict[str, Any]]:
    """One entry per day a record holds (pending records hold none: nothing was applied)."""
    if record.status is ChunkStatus.PENDING:
        return []
    chunk = record.chunk
    single = chunk.days == 1 and len(record.instance_ids) == 1
    status = reported_status(record.status)
    return [
        {
            "job_id": chunk.job_id,
            "day": (chunk.first_day + timedelta(days=n)).isoformat(),
            "status": status,
            "chunk": record.key,
            "request_id": record.request_id,
            "instance_id": record.instance_ids[0] if single else None,
            "instance_status": None,
            "plan": record.plan,
        }
        for n in range(chunk.days)
    ]


def instance_counts(days: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Days by instance status ("null": never seen), of the days SchedulerX accepted."""
    counts = Counter(d["instance_status"] or "null" for d in days if d["status"] == "succeeded")
    return dict(sorted(counts.items()))


def failed_by_job(days: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Days whose instance failed, was rejected or is unknown, grouped by job."""
    by_job: dict[int, list[dict[str, Any]]] = {}
    for d in days:
        if d["instance_status"] in _NEEDS_PERSON:
            by_job.setdefault(d["job_id"], []).append(
                {k: d[k] for k in ("day", "instance_id", "instance_status", "reason")}
            )
    return [{"job_id": job, "days": found} for job, found in by_job.items()]


def render_days(
    journal: Journal,
    stream: TextIO,
    *,
    fmt: Literal["table", "json"] = "table",
    jobs: Collection[int] = (),
    statuses: Collection[str] = (),
) -> None:
    """The per-day view; `statuses` match either the day's status or its instance's."""
    days = [
        d
        for d in status_days(journal)
        if (not jobs or d["job_id"] in jobs)
        and (
            not statuses or d["status"] in statuses or (d["instance_status"] or "null") in statuses
        )
    ]
    if fmt == "json":
        data = {
            "days": days,
            "instance_counts": instance_counts(days),
            "failed_days": failed_by_job(days),
        }
        json.dump(data, stream, indent=2)
        stream.write("\n")
        return
    stream.write(
        f"{'job':>10}  {'day':10}  {'status':9}  {'instance':>14}  {'instance status':15}\n"
    )
    for d in days:
        instance = "-" if d["instance_id"] is None else str(d["instance_id"])
        line = (
            f"{d['job_id']:>10}  {d['day']:10}  {d['status']:9}  {instance:>14}  "
            f"{d['instance_status'] or '-':15}"
        )
        stream.write(line + (f"  {d['reason']}" if d["reason"] else "") + "\n")
    counts = ", ".join(f"{n} {s}" for s, n in instance_counts(days).items())
    stream.write(f"{len(days)} days" + (f"; instances: {counts}" if counts else "") + "\n")
