"""What `run` adds for the ledger: where the journal is, how long the server guard looks
back, which generation a deliberate rerun aims at, and the summary's ledger lines."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

from ..journal import ChunkRecord, ChunkStatus, Journal
from ..journal._locate import journal_location, state_home
from ..journal._view import finished, job_view, plan_counts, plan_jobs
from ..plan import Plan
from ._result import RunResult

_PROBLEMS = frozenset({ChunkStatus.FAILED, ChunkStatus.UNKNOWN, ChunkStatus.IN_FLIGHT})


def parse_duration(text: str) -> float:
    """``7d``, ``36h``, ``90m``, ``30s`` or a plain number of seconds; raises ValueError."""
    units = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
    raw = text.strip().lower()
    scale = units.get(raw[-1:])
    number = raw[:-1] if scale is not None else raw
    value = float(number) * (scale or 1)
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"a duration must be >= 0, not {text!r}")
    return value


def default_journal_path(plan: Plan, environ: Mapping[str, str] | None = None) -> Path | str:
    """``$RERUN_ORCHESTRATOR_JOURNAL`` if set (a path, or a ``postgresql://`` URL kept as
    it is), else ``<state home>/<plan name>.sqlite`` (`journal_location`, shared with
    `status PLAN`)."""
    return journal_location(None, plan.name, environ)


def rerun_generation(plan: Plan, journal: Journal) -> int:
    """The generation a --rerun-succeeded run aims at: the plan's unfinished one (a resumed
    rerun never starts a third), else a new one."""
    entry = next((p for p in journal.plans() if p.name == plan.name), None)
    current = entry.rerun_generation if entry is not None else 0
    if current and not plan_counts(journal, plan, generation=current).complete:
        return current
    # `seen`: a replica started at the same moment may have begun one since: join it
    return journal.start_generation(plan.name, seen=current)


def plan_problems(plan: Plan, journal: Journal) -> Iterator[ChunkRecord]:
    """The records holding days of the plan that failed or whose outcome is unknown."""
    seen: set[str] = set()
    for job in plan_jobs(plan):
        if finished(journal, job) is not None:
            continue  # every day succeeded: nothing to show, nothing to read
        for segment in job_view(journal, job).segments():
            record = segment.record
            if record is not None and record.status in _PROBLEMS and record.key not in seen:
                seen.add(record.key)
                yield record


def ledger_summary(result: RunResult, path: Path | str, plan_name: str, out: TextIO) -> None:
    """What the ledger adds to the summary: days, who covered them, where the journal is."""
    days = result.days
    if days is not None:
        out.write(
            f"days: {days.total} planned, {days.succeeded} succeeded, {days.failed} failed, "
            f"{days.unknown} unknown, {days.pending} pending\n"
        )
    others = {name: n for name, n in result.covered_by.items() if name != plan_name}
    if others:
        named = ", ".join(f"{n} by plan {name}" for name, n in sorted(others.items()))
        out.write(f"days covered by other plans of this journal (not sent again): {named}\n")
    out.write(f"journal: {path}\n")


__all__ = [
    "default_journal_path",
    "ledger_summary",
    "parse_duration",
    "plan_problems",
    "rerun_generation",
    "state_home",
]
