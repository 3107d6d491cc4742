"""The clock seam: logic asks a `Clock` for the time and to sleep, never the stdlib.

Injecting it lets tests drive hours of backoff and pacing in milliseconds
(see `FakeClock`, re-exported by `rerun_orchestrator.testing`).
"""

from __future__ import annotations

import heapq
import itertools
import time
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import asyncio

# asyncio and anyio are imported where they are used: `status` and `validate` name a
# clock (the journal takes one) but never sleep, and the event loop costs them start-up.


@runtime_checkable
class Clock(Protocol):
    """Monotonic time for pacing plus wall time for records."""

    def now(self) -> float:
        """Monotonic seconds; only differences are meaningful."""
        ...

    def wall(self) -> float:
        """Seconds since the Unix epoch (UTC), for journal times and signatures."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep for `seconds` (a non-positive value just yields)."""
        ...


class SystemClock:
    """The real clock: `time.monotonic`, `time.time` and `anyio.sleep`."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        import anyio  # noqa: PLC0415 - see the module's imports

        await anyio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    """Virtual time for tests: hours of backoff and pacing in milliseconds, deterministically.

    `sleep()` parks the caller until virtual time reaches its deadline. With `autojump` (the
    default) time jumps straight to the earliest deadline as soon as the event loop has been
    idle for a few passes, as trio's ``MockClock(autojump_threshold=0)`` does: nothing runs
    in between, so nothing can observe the skipped time. Sleepers with equal deadlines wake
    in the order they slept. `advance()` moves time by hand (with or without autojump).

    Limits, on purpose (it is a test double, kept small): asyncio only (uvloop works but
    idles by pass counting, less exactly); time also jumps while a task waits on real I/O
    or a worker thread, because the loop looks idle then (loopback sockets in the same loop
    are fine: their readiness shows up within a pass); real timers (``anyio.fail_after``,
    aiohttp timeouts) keep running on the loop's real clock.

    Args:
        start: the initial `now()`.
        wall_start: the `wall()` at `start`; a fixed epoch by default so runs repeat
            exactly. Pass ``time.time()`` when signing for a server on the real clock.
        autojump: jump to the next deadline whenever the loop is idle.
    """

    # Passes of an idle loop before a jump: one pass lets woken tasks run, the rest let the
    # selector deliver loopback I/O they caused. More only slows the tests.
    _IDLE_PASSES = 4
    # Without a readable ready queue (uvloop) idleness cannot be seen; wait longer instead.
    _BLIND_PASSES = 50

    def __init__(
        self, *, start: float = 0.0, wall_start: float = 1_704_067_200.0, autojump: bool = True
    ) -> None:
        self._now = float(start)
        self._wall_offset = float(wall_start) - self._now
        self._autojump = autojump
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._jump_scheduled = False

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._wall_offset

    async def sleep(self, seconds: float) -> None:
        import asyncio  # noqa: PLC0415 - see the module's imports

        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), future))
        self._schedule_jump(loop)
        # A cancelled sleeper's future is cancelled with it and skipped when time moves on.
        await future

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds` and wake every sleeper that is now due."""
        if seconds < 0:
            raise ValueError("time cannot go backwards")
        self._now += seconds
        self._wake_due()

    @property
    def sleepers(self) -> int:
        """How many tasks are parked in `sleep()` right now."""
        return sum(1 for _, _, future in self._sleepers if not future.done())

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    def _schedule_jump(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._autojump and not self._jump_scheduled:
            self._jump_scheduled = True
            loop.call_soon(self._idle_check, loop, 0)

    def _idle_check(self, loop: asyncio.AbstractEventLoop, idle_passes: int) -> None:
        ready = getattr(loop, "_ready", None)  # asyncio's queue of runnable callbacks
        if ready is None:
            idle_passes += 1
            needed = self._BLIND_PASSES
        else:
            idle_passes = 0 if ready else idle_passes + 1
            needed = self._IDLE_PASSES
        if idle_passes < needed:
            loop.call_soon(self._idle_check, loop, idle_passes)
            return
        self._jump_scheduled = False
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
        if not self._sleepers:
            return
        self._now = max(self._now, self._sleepers[0][0])
        self._wake_due()
        if self._sleepers:
            self._schedule_jump(loop)

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now:.6f}, sleepers={self.sleepers})"
