"""The most instances active at once, per job and per group: capacity measured at the server.

A test of a capacity gate must not trust the gate's own bookkeeping. This sweeps every
attempt of every instance the simulator created (pruned ones and earlier attempts of
retried ones included) and reports, per job and per group, the highest number waiting or
running (``active``: from trigger to end) and running (from start to end) at one moment.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._instances import Instance


def peaks(instances: Iterable[Instance], trigger_type: int | None = None) -> dict[str, object]:
    """``{"jobs": {"REGION/JOB": {...}}, "groups": {"REGION/NS/GROUP": {...}}}``, each
    ``{"active": n, "running": m}``; only instances of `trigger_type` if given."""
    by_job: dict[str, list[tuple[int, int, int]]] = {}
    by_group: dict[str, list[tuple[int, int, int]]] = {}
    for instance in instances:
        if trigger_type is not None and instance.trigger_type != trigger_type:
            continue
        spec = instance.spec
        spans = instance.intervals()
        by_job.setdefault(f"{spec.region}/{instance.job_id}", []).extend(spans)
        by_group.setdefault(f"{spec.region}/{spec.namespace}/{spec.group}", []).extend(spans)
    return {
        "jobs": {key: _peak(spans) for key, spans in sorted(by_job.items())},
        "groups": {key: _peak(spans) for key, spans in sorted(by_group.items())},
    }


def _peak(spans: list[tuple[int, int, int]]) -> dict[str, int]:
    return {
        "active": _sweep((since, end) for since, _, end in spans),
        "running": _sweep((start, end) for _, start, end in spans),
    }


def _sweep(intervals: Iterable[tuple[int, int]]) -> int:
    """Peak overlap of half-open intervals [a, b): an end at t frees before a start at t."""
    events = sorted(
        (moment, delta)
        for begin, end in intervals
        if end > begin
        for moment, delta in ((begin, 1), (end, -1))
    )
    current = peak = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak
