"""Jobs put aside while a chunk of theirs waits out another record's separation.

A chunk sent within the separation of another record's answer on its days would muddle
their reconciliation evidence (`_separation`), so it waits, up to ten minutes by default.
It waits *parked*: its job lets go of its worker, its lane, its capacity and its lease
(nothing is proposed or written for it), and the other jobs go on meanwhile. Once the
wait is over the job is taken up again like any other: read afresh, its chunks derived
again (those sent meanwhile, by this run or another, are covered by then), each checked
again before it is admitted.

Held in a heap by the time each may go again; a parked job costs its `JobPlan`, nothing
of its records.
"""

from __future__ import annotations

import heapq
import itertools

from ..journal._view import JobPlan


class ParkedJobs:
    """Jobs that may go again from a wall time on, soonest first (arrival order on ties)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, JobPlan]] = []
        self._order = itertools.count()

    def park(self, job: JobPlan, until: float) -> None:
        heapq.heappush(self._heap, (until, next(self._order), job))

    def pop_due(self, now: float) -> JobPlan | None:
        """The soonest job whose wait is over at `now`, taken out; None if none is."""
        if self._heap and self._heap[0][0] <= now:
            return heapq.heappop(self._heap)[2]
        return None

    def next_due(self) -> float | None:
        """When the soonest job may go again; None if none is parked."""
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)

    def __repr__(self) -> str:
        due = self.next_due()
        return f"ParkedJobs(parked={len(self._heap)}, next_due={due})"


__all__ = ["ParkedJobs"]
