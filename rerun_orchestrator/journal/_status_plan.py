"""`status PLAN`: how far one plan has got in its journal, and the verdict a CI job exits by.

The plan's days as the ledger holds them (whichever plan of the journal covered them), and
what the rerun instance of each accepted day did. The verdict, `status --exit-code`:

- ``ok``: every planned day's chunk succeeded and no instance seen is failed, rejected,
  stopped, unknown, waiting or running (a day never watched, `run --no-watch`, counts as
  its chunk: accepted);
- ``problems``: some day failed, has an unknown outcome, or its instance failed, was
  rejected or stopped, or was never found;
- ``not_done``: nothing went wrong, but some days are still pending or their instances are
  still waiting or running.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from ..plan._run_windows import waiting_message
from ._model import ChunkStatus
from ._report import reported_status
from ._store import Journal
from ._view import day_status, job_view, plan_counts, plan_jobs

if TYPE_CHECKING:  # `status` without PLAN loads no plan code (issue 13)
    from ..plan._plan import Plan

Verdict = Literal["ok", "problems", "not_done"]

_BAD_INSTANCES = frozenset({"failed", "rejected", "stopped", "unknown"})
_LIVE_INSTANCES = frozenset({"waiting", "running"})


def plan_status(
    journal: Journal, plan: Plan, *, path: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The plan's chunk and day counts, its accepted days by instance status, the verdict,
    and, while days are pending and the plan's run windows are shut, when the next opens."""
    counts = plan_counts(journal, plan)
    instances: Counter[str] = Counter()
    for job in plan_jobs(plan):
        view = job_view(journal, job)
        accepted = [
            s
            for s in view.segments()
            if s.record is not None and day_status(s) is ChunkStatus.SUCCEEDED
        ]
        known = journal.day_instances({s.record.key for s in accepted if s.record})
        for segment in accepted:
            assert segment.record is not None
            for n in range(segment.days):
                seen = known.get((segment.record.key, segment.first + timedelta(days=n)))
                instances["null" if seen is None else seen.status.value] += 1
    days = _contract(counts.days)
    return {
        "name": plan.name,
        "path": path,
        "digest": plan.digest,
        "counts": _contract(counts.chunks),
        "day_counts": days,
        "instance_counts": dict(sorted(instances.items())),
        "covered_by": dict(counts.days_by_plan),
        "verdict": verdict(days, instances),
        "window": _window(plan, now) if days["pending"] else None,
    }


def _window(plan: Plan, now: datetime | None) -> dict[str, str] | None:
    """``{"opens_at", "message"}`` when RerunJob may not be sent now (`execution.windows`)."""
    zone = ZoneInfo(plan.timezone)
    local = (now or datetime.now(zone)).astimezone(zone)
    opens = plan.execution.windows.opening(local)
    if opens is None:
        return None
    return {"opens_at": opens.isoformat(), "message": waiting_message(opens, local)}


def verdict(days: Mapping[str, int], instances: Mapping[str, int]) -> Verdict:
    """`ok`, `problems` or `not_done` from day counts (the contract's four states) and
    accepted days by instance status (see the module's docstring)."""
    if days.get("failed") or days.get("unknown") or any(instances.get(s) for s in _BAD_INSTANCES):
        return "problems"
    if days.get("pending") or any(instances.get(s) for s in _LIVE_INSTANCES):
        return "not_done"
    return "ok"


def _contract(by_status: Mapping[ChunkStatus, int]) -> dict[str, int]:
    out = dict.fromkeys(("total", "succeeded", "failed", "unknown", "pending"), 0)
    for status, n in by_status.items():
        out["total"] += n
        out[reported_status(status)] += n
    return out


_SAID = {
    "ok": "every planned day succeeded",
    "problems": "some days need a person: failed, unknown, or their instance did not succeed",
    "not_done": "not done yet: days pending, or their instances still waiting or running",
}


def write_plan_table(status: Mapping[str, Any], write: Callable[[str], object]) -> None:
    """The plan's section of the `status PLAN` table."""
    where = f" ({status['path']})" if status["path"] else ""
    write(f"\nPlan {status['name']}{where}\n")
    for title, counts in (("days", status["day_counts"]), ("chunks", status["counts"])):
        figures = ", ".join(f"{n} {name}" for name, n in counts.items() if name != "total")
        write(f"  {title:<9} {counts['total']}: {figures}\n")
    if status["instance_counts"]:
        seen = ", ".join(f"{n} {name}" for name, n in status["instance_counts"].items())
        write(f"  instances {seen}\n")
    write(f"  {_SAID[status['verdict']]}\n")
    if status.get("window"):
        write(f"  pending days are {status['window']['message']}\n")
