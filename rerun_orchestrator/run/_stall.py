"""The stall limit: a run goes on while chunks progress, and stops when none has for long.

Transient trouble (throttling, 5xx, a spent retry budget) never fails a chunk: it is sent
again when the service allows. What bounds a run against a service that does not recover
is this limit: when no chunk has settled for `timeout` seconds the run stops (exit 1),
every unsettled chunk stays pending, and the same command resumes later. The default
survives a real incident of the service.
"""

from __future__ import annotations

import math

from .._clock import Clock

DEFAULT_STALL_TIMEOUT = 1800.0  # seconds: 30 minutes without any chunk settling


class StallWatch:
    """When did a chunk last settle, and has that been too long ago?"""

    def __init__(self, clock: Clock, timeout: float = DEFAULT_STALL_TIMEOUT) -> None:
        if not (timeout > 0 and not math.isnan(timeout)):
            raise ValueError(f"the stall timeout must be > 0 seconds, got {timeout!r}")
        self.timeout = timeout
        self._clock = clock
        self._last = clock.now()

    def progressed(self) -> None:
        self._last = self._clock.now()

    @property
    def idle_seconds(self) -> float:
        return self._clock.now() - self._last

    def expired(self) -> bool:
        return self.idle_seconds >= self.timeout

    def reason(self, last_trouble: str | None) -> str:
        why = f" (last answer: {last_trouble})" if last_trouble else ""
        return (
            f"no chunk settled for {self.timeout:g} s (--stall-timeout){why}; the unsettled "
            "chunks stay pending: the same command resumes"
        )
