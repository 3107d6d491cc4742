"""Finding (job, day) pairs that a plan would rerun twice, without listing any day.

Each (target, job entry, window) is a rectangle: a job range x a day range at one location
(region, namespace, group). Two rectangles at one location that intersect mean some job
reruns some day twice, which is exactly what a backfill must never do (RerunJob is not
idempotent). A sweep over the job axis stops only where a rectangle begins; there the
rectangles covering that job id are sorted by first day and scanned once. The cost depends
on the number of plan entries, never on how many days or job ids they span.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ._yaml import Node

Location = tuple[str, str, str]  # region, namespace, group


@dataclass(frozen=True, slots=True)
class Rect:
    """One job entry x one window of a target, with the nodes that name it."""

    location: Location
    first_job: int
    last_job: int
    first_day: int  # date ordinals
    last_day: int
    order: tuple[int, int, int]  # (target, job entry, window) indexes: plan order
    job_node: Node
    window_node: Node


def find_overlaps(rects: Iterable[Rect]) -> Iterator[tuple[Rect, Rect]]:
    """Pairs `(earlier, later)`, in plan order, of intersecting rectangles at one location.

    Every rectangle that intersects another is in at least one pair; a pair is yielded once.
    """
    by_location: defaultdict[Location, list[Rect]] = defaultdict(list)
    for rect in rects:
        by_location[rect.location].append(rect)
    for group in by_location.values():
        if len(group) > 1:
            yield from _sweep(group)


def _sweep(rects: list[Rect]) -> Iterator[tuple[Rect, Rect]]:
    starts: defaultdict[int, list[int]] = defaultdict(list)
    for index, rect in enumerate(rects):
        starts[rect.first_job].append(index)
    expiring: list[tuple[int, int]] = []  # (last_job, index): a heap
    active: set[int] = set()
    reported: set[tuple[int, int]] = set()
    for job in sorted(starts):
        while expiring and expiring[0][0] < job:
            active.discard(heapq.heappop(expiring)[1])
        new = starts[job]
        for index in new:
            active.add(index)
            heapq.heappush(expiring, (rects[index].last_job, index))
        if len(active) < 2:
            continue
        holder = -1
        for index in sorted(active, key=lambda i: (rects[i].first_day, rects[i].order)):
            rect = rects[index]
            if holder >= 0 and rects[holder].last_day >= rect.first_day:
                pair = (min(holder, index), max(holder, index))
                if pair not in reported:
                    reported.add(pair)
                    first, second = sorted((rects[holder], rect), key=lambda r: r.order)
                    yield first, second
            if holder < 0 or rect.last_day > rects[holder].last_day:
                holder = index
