"""`status --journal`: what a journal holds, for a human (table) or a program (JSON).

Counts per state, failures grouped by the server's code (a sample message each: a
thousand "jobId=… is not existed" lines say less than one line with a count), every
chunk whose outcome is unknown with the reason (those need a decision), and orphans.
Reads only; safe while a run writes the journal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TextIO

from ._lock import active_holder
from ._model import ChunkRecord, ChunkStatus
from ._sqlite import SqliteJournal
from ._status_days import failed_by_job, instance_counts, status_days
from ._status_plan import Verdict, plan_status, verdict, write_plan_table
from ._store import Journal

if TYPE_CHECKING:  # `status` without PLAN loads no plan code (issue 13)
    from ..plan._plan import Plan

Format = Literal["table", "json"]

_IN_FLIGHT_REASON = {
    ChunkStatus.IN_FLIGHT: "in flight: its run is going on, or stopped mid-call "
    "(the next run checks it)"
}
_ORPHANS_SHOWN = 20  # in the table; JSON lists them all
_UNKNOWN_ROWS = 50  # in the table; JSON lists them all
_ORDER = (
    ChunkStatus.SUCCEEDED,
    ChunkStatus.PENDING,
    ChunkStatus.IN_FLIGHT,
    ChunkStatus.FAILED,
    ChunkStatus.UNKNOWN,
)


@dataclass(frozen=True, slots=True)
class _FailureGroup:
    code: str | int | None
    count: int
    sample_message: str | None
    sample_key: str


def status_data(journal: Journal) -> dict[str, Any]:
    """Everything `status` shows, as JSON-ready data."""
    meta = journal.meta
    counts = journal.counts()
    orphans, orphan_count = journal.orphans()  # all of them: JSON is never cut short
    covered = _days_by_plan(journal)
    data: dict[str, Any] = {
        "journal": _where(journal),
        "plan": meta.plan_name,
        "plan_digest": meta.plan_digest,
        "created_at": _iso(meta.created_at),
        "active_run": _active_run(journal),
        "counts": {status.value: counts[status] for status in _ORDER}
        | {"total": sum(counts.values())},
        "failures": [
            {
                "code": group.code,
                "count": group.count,
                "sample_message": group.sample_message,
                "sample_key": group.sample_key,
            }
            for group in _failures(journal)
        ],
        "unknown": [
            _unknown_entry(record)
            for record in journal.records([ChunkStatus.UNKNOWN, ChunkStatus.IN_FLIGHT])
        ],
        "orphans": {"count": orphan_count, "keys": list(orphans)},
        "days": (days := status_days(journal)),
        "instance_counts": instance_counts(days),
        "failed_days": failed_by_job(days),
        "plans": [
            {
                "name": entry.name,
                "digest": entry.digest,
                "timezone": entry.timezone,
                "job_days": entry.job_days,
                "covered_days": covered.get(entry.name, {}),
            }
            for entry in journal.plans()
        ],
    }
    return data


def _days_by_plan(journal: Journal) -> dict[str, dict[str, int]]:
    """Days of each plan's records by state, summed from the spans (no list of days)."""
    out: dict[str, dict[str, int]] = {}
    for plan, status, days in journal.days_by_plan():
        out.setdefault(plan or "?", {})[status.value] = days
    return out


def render_status(
    journal: Journal,
    stream: TextIO,
    *,
    fmt: Format = "table",
    plan: Plan | None = None,
    plan_path: str | None = None,
) -> dict[str, Any]:
    """Write what `journal` holds to `stream` as a table or as one JSON document (every
    entry: only the table shortens long lists); returns the data. With `plan`, the data's
    ``plan_status`` is that plan's progress and verdict (`plan_status`)."""
    data = status_data(journal)
    if plan is not None:
        data["plan_status"] = plan_status(journal, plan, path=plan_path)
    if fmt == "json":
        json.dump(data, stream, indent=2)
        stream.write("\n")
        return data
    _table(data, stream.write)
    if plan is not None:
        write_plan_table(data["plan_status"], stream.write)
    return data


def journal_verdict(data: dict[str, Any]) -> Verdict:
    """The verdict of a whole journal (`status --exit-code` without a plan): its chunks
    (in flight reads as unknown) and its accepted days' instances."""
    counts = data["counts"]
    chunks = {
        "failed": counts["failed"],
        "unknown": counts["unknown"] + counts["in_flight"],
        "pending": counts["pending"],
    }
    return verdict(chunks, data["instance_counts"])


def _failures(journal: Journal) -> list[_FailureGroup]:
    groups: dict[tuple[str, str | int | None], list[ChunkRecord]] = {}
    for record in journal.records([ChunkStatus.FAILED]):
        # The type is part of the group: the string "500" and the integer 500 differ.
        groups.setdefault((type(record.code).__name__, record.code), []).append(record)
    result = [
        _FailureGroup(code, len(records), records[0].message, records[0].key)
        for (_, code), records in groups.items()
    ]
    result.sort(key=lambda group: (-group.count, str(group.code)))
    return result


def _unknown_entry(record: ChunkRecord) -> dict[str, Any]:
    chunk = record.chunk
    return {
        "key": chunk.key,
        "job_id": chunk.job_id,
        "first_day": chunk.first_day.isoformat(),
        "last_day": chunk.last_day.isoformat(),
        "status": record.status.value,
        "attempts": record.attempts,
        "request_id": record.request_id,
        "code": record.code,
        "reason": record.reason or _IN_FLIGHT_REASON.get(record.status),
        "instance_ids": list(record.instance_ids),
        "attempt_started_at": _iso(record.attempt_started_at),
    }


def _where(journal: Journal) -> str | None:
    if isinstance(journal, SqliteJournal):
        return str(journal.path)
    location = getattr(journal, "location", None)  # a PostgreSQL journal's URL, redacted
    return location if isinstance(location, str) else None


def _active_run(journal: Journal) -> dict[str, Any] | None:
    if not isinstance(journal, SqliteJournal):
        return None
    holder = active_holder(journal.path)
    return None if holder is None else {"pid": holder.get("pid"), "since": holder.get("since")}


def _iso(wall: float | None) -> str | None:
    if wall is None:
        return None
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="seconds")


def _table(data: dict[str, Any], write: Callable[[str], object]) -> None:
    if data["journal"]:
        write(f"Journal  {data['journal']}\n")
    write(f"Plan     {data['plan']} (digest {data['plan_digest'][:12] or '-'}, ")
    write(f"created {data['created_at']})\n")
    if data["active_run"]:
        run = data["active_run"]
        write(f"Run      in progress: pid {run['pid']} since {run['since']}\n")
    if len(data["plans"]) > 1 or any(p["name"] != data["plan"] for p in data["plans"]):
        write("Plans    (sharing this journal; days covered, by state)\n")
        for entry in data["plans"]:
            covered = ", ".join(f"{n} {state}" for state, n in entry["covered_days"].items())
            write(f"  {entry['name']:<24} {entry['timezone'] or '-':<16} {covered or '-'}\n")
    write("\n")
    counts = data["counts"]
    width = max(len(str(n)) for n in counts.values())
    for name, count in counts.items():
        write(f"  {name.replace('_', ' '):<10} {count:>{width}}\n")

    if data["failures"]:
        write("\nFailures by code (resend them with: run PLAN --retry-failed)\n")
        codes = [_code(group["code"]) for group in data["failures"]]
        code_width = max(8, *(len(code) for code in codes))
        write(f"  {'code':<{code_width}}  {'chunks':>6}  sample message\n")
        for code, group in zip(codes, data["failures"], strict=True):
            message = _one_line(group["sample_message"] or "-")
            write(f"  {code:<{code_width}}  {group['count']:>6}  {message}\n")

    unknown = data["unknown"]
    if unknown:
        write(
            f"\nUnknown outcomes ({len(unknown)}): never resent automatically; the next run "
            "checks them with GetJobInstanceList\n"
        )
        for entry in unknown[:_UNKNOWN_ROWS]:
            request = entry["request_id"] or "-"
            write(
                f"  {entry['key']}  job {entry['job_id']} {entry['first_day']}..{entry['last_day']}"
                f"  {entry['status']}  attempts {entry['attempts']}  request {request}\n"
                f"      {_one_line(entry['reason'] or '-')}\n"
            )
        if len(unknown) > _UNKNOWN_ROWS:
            write(f"  ... and {len(unknown) - _UNKNOWN_ROWS} more (--format json lists all)\n")

    orphans = data["orphans"]
    if orphans["count"]:
        write(
            f"\nOrphans ({orphans['count']}): chunks in the journal that the plan no longer "
            "has; they are never sent\n"
        )
        for key in orphans["keys"][:_ORPHANS_SHOWN]:
            write(f"  {key}\n")
        if orphans["count"] > _ORPHANS_SHOWN:
            more = orphans["count"] - _ORPHANS_SHOWN
            write(f"  ... and {more} more (--format json lists all)\n")


def _code(code: str | int | None) -> str:
    return "-" if code is None else str(code)


def _one_line(text: str, limit: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
