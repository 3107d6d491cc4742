"""The dry run: every chunk as JSON lines, or a summary a person can read before a backfill.

Both write to a text stream the caller owns; neither keeps chunks in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from ._plan import JobRange, Plan, Target
from ._rate import format_duration, run_seconds

_JOBS_WIDTH = 36
_NAMESPACE_WIDTH = 14


def render_jsonl(plan: Plan, stream: TextIO) -> int:
    """Write one JSON object per chunk, in plan order, with exactly the contract's keys.

    Returns the number of chunks written.
    """
    count = 0
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for chunk in plan.chunks():
        stream.write(dumps(chunk.to_json()) + "\n")
        count += 1
    return count


def render_table(plan: Plan, stream: TextIO) -> None:
    """Write a summary: one row per target, then total calls and the time they need.

    A target's jobs all share its windows and chunk size, so a row stands for all of them;
    its job list is collapsed into ranges and shortened when long.
    """
    execution = plan.execution
    where = f" ({plan.path})" if plan.path else ""
    stream.write(
        f"Plan {plan.name}{where}, timezone {plan.timezone}, digest {plan.digest[:12]}\n\n"
    )
    header = (
        "TARGET",
        "REGION",
        "NAMESPACE",
        "GROUP",
        "JOBS",
        "#JOBS",
        "DATA_TIME",
        "CHUNK",
        "CHUNKS/JOB",
        "CALLS",
        "FIRST DAY",
        "LAST DAY",
    )
    rows = [header, *(_row(i, t) for i, t in enumerate(plan.targets, 1))]
    widths = [max(len(row[c]) for row in rows) for c in range(len(header))]
    numeric = {0, 5, 8, 9}
    for row in rows:
        cells = [
            cell.rjust(widths[c]) if c in numeric else cell.ljust(widths[c])
            for c, cell in enumerate(row)
        ]
        stream.write("  ".join(cells).rstrip() + "\n")
    calls = plan.count_chunks()
    jobs = sum(t.job_count for t in plan.targets)
    pace, bound = execution.pace
    eta = format_duration(run_seconds(calls, pace))
    stream.write(
        f"\n{calls:,} calls, about {eta} at {pace}, {bound}"
        f" ({jobs:,} jobs, {plan.count_job_days():,} job-days;"
        f" concurrency {execution.concurrency}, up to {execution.max_attempts} attempts per call)\n"
    )


def plan_summary(plan: Plan) -> dict[str, Any]:
    """`plan --format json`: counts, per-target totals and the ETA, as one JSON object.

    The ETA is counted at the pace a run can keep (the plan's rate, or the account's quota
    when the rate is above it); ``eta.bound`` says which, ``eta.seconds`` is a float.
    """
    execution = plan.execution
    pace, bound = execution.pace
    calls = plan.count_chunks()
    seconds = run_seconds(calls, pace)
    return {
        "plan": plan.name,
        "path": plan.path,
        "timezone": plan.timezone,
        "digest": plan.digest,
        "calls": calls,
        "jobs": sum(t.job_count for t in plan.targets),
        "job_days": plan.count_job_days(),
        "targets": [
            {
                "target": index,
                "region": t.region,
                "namespace": t.namespace,
                "namespace_source": t.namespace_source,
                "group_id": t.group_id,
                "jobs": [[first, last] for first, last in collapse(t.jobs)],
                "job_count": t.job_count,
                "data_time": t.data_time,
                "chunk_days": t.chunk_days,
                "calls": t.count_chunks(),
                "job_days": t.job_count * t.days_per_job,
                "first_day": t.first_day.isoformat(),
                "last_day": t.last_day.isoformat(),
            }
            for index, t in enumerate(plan.targets, 1)
        ],
        "execution": {
            "rate": str(execution.rate),
            "account_quota": str(execution.account_quota),
            "concurrency": execution.concurrency,
            "max_attempts": execution.max_attempts,
        },
        "eta": {
            "seconds": seconds,
            "text": format_duration(seconds),
            "rate": str(pace),
            "bound": "rate" if bound == "the plan's rate" else "quota",
        },
    }


def _row(index: int, target: Target) -> tuple[str, ...]:
    return (
        str(index),
        target.region,
        _shorten(target.namespace, _NAMESPACE_WIDTH),
        target.group_id,
        _jobs_text(target.jobs),
        f"{target.job_count:,}",
        target.data_time,
        f"{target.chunk_days} d",
        f"{target.chunks_per_job:,}",
        f"{target.count_chunks():,}",
        target.first_day.isoformat(),
        target.last_day.isoformat(),
    )


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def collapse(jobs: Iterable[JobRange]) -> list[JobRange]:
    """Adjacent entries that continue each other (123, 124, "125-130") as one range."""
    merged: list[JobRange] = []
    for first, last in jobs:
        if merged and merged[-1][1] + 1 == first:
            merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


def _jobs_text(jobs: Iterable[JobRange]) -> str:
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in collapse(jobs)]
    text = ", ".join(parts)
    if len(text) <= _JOBS_WIDTH:
        return text
    shown: list[str] = []
    for part in parts:
        more = f", … (+{len(parts) - len(shown) - 1} more)"
        if len(", ".join([*shown, part])) + len(more) > _JOBS_WIDTH and shown:
            break
        shown.append(part)
    return ", ".join(shown) + f", … (+{len(parts) - len(shown)} more)"
