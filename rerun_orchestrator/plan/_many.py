"""Several plans checked together: each alone, then days that two of them would rerun.

Plans of one backfill often live side by side in a repository (one per team, per quarter),
and two plans over the same (location, job, day) would rerun that day twice if run with
different journals. Each valid plan's entries (job range x window) are swept together
with `find_overlaps`, the same sweep as within one plan, so the cost depends on the
number of entries, never on how many days or jobs they span.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import date

from ._diagnostics import Diagnostic, ordered
from ._loader import check_with_entries
from ._overlaps import Rect, find_overlaps
from ._plan import Plan
from ._source import read_plan_text
from ._yaml import position


@dataclass
class PlanCheck:
    """One file's verdict: its plan (None if it has an error) and every problem found."""

    path: str
    plan: Plan | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.plan is not None and not any(d.is_error for d in self.diagnostics)


def check_plans(
    paths: Iterable[str | os.PathLike[str]],
    *,
    max_chunks: int | None = None,
    known_regions: Collection[str] | None = None,
    across: bool = True,
) -> list[PlanCheck]:
    """Check each file as `check_plan` does, then (with `across`) the days planned by two.

    A day two plans cover is an error in both, each naming the other's position; a plan
    with such an error has no `plan`. Plans invalid on their own take no part; a file
    given twice is checked once. ``across=False`` is for plans meant to share a journal,
    which then sends each day once whichever plan reaches it first.
    """
    checks: list[PlanCheck] = []
    entries: list[Rect] = []
    seen: set[str] = set()
    for path in paths:
        name = os.fspath(path)
        try:
            real = os.path.realpath(name)
        except ValueError:  # no file has this name ("embedded null byte"); reading says so
            real = name
        if real in seen:  # a file given twice is checked once
            continue
        seen.add(real)
        index = len(checks)
        text = read_plan_text(name)
        if isinstance(text, Diagnostic):
            checks.append(PlanCheck(name, None, [text]))
            continue
        plan, diagnostics, rects = check_with_entries(text, name, max_chunks, known_regions)
        checks.append(PlanCheck(name, plan, diagnostics))
        if plan is not None and across:
            # The first index says which file: pairs within one plan cannot occur (it has
            # no overlap of its own), so every pair found is across two files.
            entries += [replace(r, order=(index, r.order[0], r.order[1])) for r in rects]
    for first, second in _pairs(entries):
        for here, there in ((first, second), (second, first)):
            check = checks[here.order[0]]
            check.diagnostics.append(_collision(check.path, here, checks[there.order[0]], there))
    for check in checks:
        check.diagnostics = ordered(dict.fromkeys(check.diagnostics))
        if any(d.is_error for d in check.diagnostics):
            check.plan = None
    return checks


def _pairs(entries: list[Rect]) -> list[tuple[Rect, Rect]]:
    said: set[tuple[int, ...]] = set()
    pairs = []
    for first, second in find_overlaps(entries):
        nodes = (first.job_node, first.window_node, second.job_node, second.window_node)
        key = tuple(map(id, nodes))
        if key not in said:  # aliases share nodes: one message per pair of entries
            said.add(key)
            pairs.append((first, second))
    return pairs


def _collision(path: str, here: Rect, other: PlanCheck, there: Rect) -> Diagnostic:
    first_job, last_job = max(here.first_job, there.first_job), min(here.last_job, there.last_job)
    jobs = f"job {first_job}" if first_job == last_job else f"jobs {first_job}-{last_job}"
    day_from = date.fromordinal(max(here.first_day, there.first_day))
    day_to = date.fromordinal(min(here.last_day, there.last_day))
    days = str(day_from) if day_from == day_to else f"{day_from}..{day_to}"
    line, col = position(there.job_node)
    name = f" (plan {other.plan.name})" if other.plan is not None else ""
    return Diagnostic(
        path,
        *position(here.job_node),
        f"{jobs} on {days} in {'/'.join(here.location)} is also planned by "
        f"{other.path}:{line}:{col}{name}: each plan would rerun those days",
    )
