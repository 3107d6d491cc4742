"""The bounds of a plan: how large a document, how deep, and how large every number may be.

A plan may come from anyone (a pull request, a generator with a bug), and every command
reads it before doing anything else, so reading it must take bounded time and memory
whatever it holds. The document's size and depth bound PyYAML's work; the number of nodes
after aliases and merge keys are expanded bounds ours (a billion-laughs plan is a few
hundred bytes). The maxima of the numbers are far above any sensible backfill and low
enough that a typo (``concurrency: 10000000``) is refused instead of starting ten million
workers. The command line uses the same bounds for its overrides. docs/plan.md lists them.
"""

from __future__ import annotations

import math

#: Largest plan file, in bytes (characters for `check_plan_text`).
MAX_PLAN_BYTES = 1024 * 1024
#: Deepest nesting of lists and mappings; a plan needs 5 levels.
MAX_NESTING = 32
#: Deepest chain of merge keys (``<<: *a`` where ``a`` merges another mapping ...).
MAX_MERGE_DEPTH = 32
#: Most nodes the document may hold once every alias is expanded where it is used.
MAX_EXPANDED_NODES = 200_000

#: Inclusive bounds of each integer of a plan (and of the options that override them).
INT_BOUNDS: dict[str, tuple[int, int]] = {
    "concurrency": (1, 1000),
    "per_job_concurrency": (1, 1000),
    "max_attempts": (1, 100),
    "chunk_days": (1, 366),  # a year per call; SchedulerX documents no limit of its own
    "max_chunks": (1, 10_000_000),
    # this backfill's active instances of one job / one group (good neighbour)
    "max_active_per_job": (1, 10_000),
    "max_active_per_group": (1, 1_000_000),
}
#: Bounds of a rate, in calls per second: at least one call a day, at most 100,000/s.
MIN_RATE_PER_SECOND = 1 / 86_400
MAX_RATE_PER_SECOND = 100_000.0
#: Longest `--timeout` of one attempt, in seconds.
MAX_TIMEOUT_SECONDS = 3600.0


def int_bounds_error(what: str, value: int) -> str | None:
    """Why `value` is out of bounds for the integer field `what`, or None if it is fine."""
    low, high = INT_BOUNDS[what]
    if low <= value <= high:
        return None
    return f"{what} must be an integer from {low} to {high:,}, not {value:,}"


def rate_bounds_error(text: str, per_second: float) -> str | None:
    """Why a rate of `per_second` calls per second is refused, or None if it is fine."""
    if not math.isfinite(per_second) or per_second <= 0:
        return f"rate {text!r} must be more than zero calls"
    if per_second < MIN_RATE_PER_SECOND:
        return f"rate {text!r} is below the minimum of one call per day"
    if per_second > MAX_RATE_PER_SECOND:
        return f"rate {text!r} is above the maximum of {MAX_RATE_PER_SECOND:,.0f}/s"
    return None
