"""The clock seam: logic asks a `Clock` for the time and to sleep, never the stdlib.

Injecting it lets tests drive hours of backoff and pacing in milliseconds
(see `rerun_orchestrator.testing.FakeClock`).
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

import anyio


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
        await anyio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "SystemClock()"
