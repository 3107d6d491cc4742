"""Run windows: when a plan's RerunJob calls may be sent, in the plan's timezone.

Pure time arithmetic on aware datetimes (wall-clock steps, so a window keeps its local
hours across a DST change); the executor's window gate asks `opening` and `closing`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta


@dataclass(frozen=True, slots=True)
class RunWindow:
    """RerunJob may be sent on `weekdays` (0 = Monday) from `start` to `end`, local time;
    an `end` at or before `start` wraps past midnight (the window belongs to its start day)."""

    weekdays: frozenset[int]
    start: time
    end: time

    @property
    def wraps(self) -> bool:
        return self.end <= self.start

    def span_from(self, day: datetime) -> tuple[datetime, datetime] | None:
        """The window's opening on `day`'s date (aware, the plan's zone), if it opens then."""
        if day.weekday() not in self.weekdays:
            return None
        opens = day.replace(hour=self.start.hour, minute=self.start.minute, second=0, microsecond=0)
        closes = opens.replace(hour=self.end.hour, minute=self.end.minute)
        if self.wraps:
            closes += timedelta(days=1)
        return opens, closes


@dataclass(frozen=True, slots=True)
class RunWindows:
    """The plan's run windows; none means always open."""

    windows: tuple[RunWindow, ...] = ()

    def opening(self, now: datetime) -> datetime | None:
        """None if a window is open at `now` (aware), else when the next one opens."""
        if not self.windows:
            return None
        best: datetime | None = None
        base = now.replace(hour=0, minute=0, second=0, microsecond=0)
        for offset in range(-1, 8):
            day = base + timedelta(days=offset)
            for window in self.windows:
                span = window.span_from(day)
                if span is None:
                    continue
                opens, closes = span
                if opens <= now < closes:
                    return None
                if opens > now and (best is None or opens < best):
                    best = opens
        return best

    def closing(self, now: datetime) -> datetime | None:
        """When the window open at `now` closes (None if none is open)."""
        base = now.replace(hour=0, minute=0, second=0, microsecond=0)
        ends = [
            closes
            for offset in (-1, 0)
            for window in self.windows
            if (span := window.span_from(base + timedelta(days=offset)))
            and span[0] <= now < (closes := span[1])
        ]
        return max(ends) if ends else None


def waiting_message(opens: datetime, now: datetime) -> str:
    """``waiting for the window (opens 20:00, in 3 h 12 min)``; the date if not today."""
    seconds = max(0, int((opens - now).total_seconds()))
    hours, minutes = divmod((seconds + 59) // 60, 60)
    span = f"{hours} h {minutes} min" if hours else f"{minutes} min"
    when = f"{opens:%H:%M}" if opens.date() == now.date() else f"{opens:%a %H:%M}"
    return f"waiting for the window (opens {when}, in {span})"


__all__ = ["RunWindow", "RunWindows", "waiting_message"]
