"""The run-window gate: RerunJob is sent only inside the plan's run windows.

A `Gate` walked before each attempt (after its concurrency slot, before its rate token):
outside a window it sleeps on the injected clock until the next one opens, and says so
once per closed spell (`WindowWaiting`, and `RunStats.waiting` for the progress line:
"waiting for the window (opens 20:00, in 3 h 12 min)"). Instances already running are not
this gate's business: they are watched at all times. `--ignore-windows` builds no gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar
from zoneinfo import ZoneInfo

from .._clock import Clock
from ..plan._run_windows import RunWindows, waiting_message
from ._admission import Ticket
from ._events import EventSink, RunEvent
from ._result import RunStats


@dataclass(frozen=True, slots=True)
class WindowWaiting(RunEvent):
    name: ClassVar[str] = "rerun.window.waiting"

    opens_at: str  # ISO 8601, in the plan's timezone
    in_seconds: float
    message: str


class WindowGate:
    """Shut outside the plan's run windows (a `Gate`; nothing to give back)."""

    def __init__(
        self,
        windows: RunWindows,
        zone: ZoneInfo,
        clock: Clock,
        *,
        events: EventSink | None = None,
        stats: RunStats | None = None,
    ) -> None:
        self._windows = windows
        self._zone = zone
        self._clock = clock
        self._events = events
        self._stats = stats
        self._announced: datetime | None = None

    def _local_now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.wall(), self._zone)

    def opening(self) -> datetime | None:
        """None while a window is open, else when the next one opens."""
        return self._windows.opening(self._local_now())

    def try_start(self, ticket: Ticket) -> Ticket | None:
        if self.opening() is None:
            if self._stats is not None:
                self._stats.waiting = None
            return ticket
        return None

    async def start(self, ticket: Ticket) -> Ticket:
        while (opens := self.opening()) is not None:
            now = self._local_now()
            self._announce(opens, now)
            await self._clock.sleep(max((opens - now).total_seconds(), 0.001))
        if self._stats is not None:
            self._stats.waiting = None
        return ticket

    def finished(self, ticket: Ticket) -> None:
        pass

    def still_admits(self, ticket: Ticket) -> bool:
        return self.opening() is None

    def _announce(self, opens: datetime, now: datetime) -> None:
        message = waiting_message(opens, now)
        if self._stats is not None:
            self._stats.waiting = message
        if self._events is not None and opens != self._announced:
            self._announced = opens
            seconds = (opens - now).total_seconds()
            self._events.emit(WindowWaiting(opens.isoformat(), seconds, message))


__all__ = ["WindowGate", "WindowWaiting", "waiting_message"]
