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
from collections.abc import Awaitable, Callable

import anyio

from .._clock import Clock
from ..journal._view import JobPlan
from ._result import RunStats
from ._stop import StoppedError, StopSignal


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

    async def drain(
        self,
        run: Callable[[JobPlan], Awaitable[bool]],
        clock: Clock,
        signal: StopSignal,
        stats: RunStats,
        workers: int,
    ) -> None:
        """`run` each job as its wait ends, `workers` at a time, until none is parked (a
        job parked again meanwhile included) or `run` says a stop was requested; a stop
        cuts the waits short."""

        async def worker() -> None:
            while self._heap and not signal.is_set:
                job = self.pop_due(clock.wall())
                if job is not None:
                    if not await run(job):
                        return
                    continue
                due = self._heap[0][0]
                stats.waiting = (
                    f"{len(self._heap)} job(s) wait out the separation from another record "
                    "of their days"
                )
                try:
                    await signal.sleep(clock.sleep, max(0.0, due - clock.wall()))
                except StoppedError:
                    return
                finally:
                    stats.waiting = None

        async with anyio.create_task_group() as tg:
            for _ in range(min(workers, len(self._heap))):
                tg.start_soon(worker)

    def __len__(self) -> int:
        return len(self._heap)

    def __repr__(self) -> str:
        due = self.next_due()
        return f"ParkedJobs(parked={len(self._heap)}, next_due={due})"


__all__ = ["ParkedJobs"]
