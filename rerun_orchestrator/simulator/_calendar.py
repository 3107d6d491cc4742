"""Calendar math of the simulated server: days cut in its timezone, its time strings.

Pure functions over epoch milliseconds and `zoneinfo` zones. SchedulerX reruns "one
instance per calendar day from StartDate's day to EndDate's day", and the day of an
instant depends on the zone the server cuts it in; every DST and month-end subtlety of
the simulator lives here so it can be tested without a server.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d):([0-5]\d)$")
SERVER_FORMAT = "%Y-%m-%d %H:%M:%S"


def load_zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; raises ValueError (not a zoneinfo-specific error) if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA timezone {name!r}") from exc


def parse_time_of_day(text: str) -> time | None:
    """A strict ``HH:mm:ss`` (as SchedulerX's DataTime), or None when malformed."""
    match = _TIME_OF_DAY.match(text)
    if match is None:
        return None
    return time(int(match[1]), int(match[2]), int(match[3]))


def day_of(epoch_ms: int, zone: ZoneInfo) -> date:
    """The calendar day, in `zone`, that contains the instant `epoch_ms`.

    Raises ValueError (or OverflowError) for instants outside datetime's range.
    """
    return datetime.fromtimestamp(epoch_ms / 1000, tz=zone).date()


def days_between(start_ms: int, end_ms: int, zone: ZoneInfo) -> list[date]:
    """Every day from the day of `start_ms` to the day of `end_ms`, both inclusive.

    Days are calendar days in `zone`, so a 23- or 25-hour DST day is still one day and
    an instant that is not at midnight still names its whole day. Empty when the end
    day is before the start day.
    """
    first, last = day_of(start_ms, zone), day_of(end_ms, zone)
    count = (last - first).days + 1
    return [first + timedelta(days=offset) for offset in range(max(0, count))]


def local_ms(day: date, at: time, zone: ZoneInfo) -> int:
    """Epoch ms of wall time `day at` in `zone`.

    A wall time skipped by a DST change resolves with the offset before the change
    (zoneinfo's fold=0), the way Java's `LocalDateTime.atZone` moves it forward.
    """
    local = datetime.combine(day, at, tzinfo=zone)
    return int(local.astimezone(UTC).timestamp() * 1000)


def format_ms(epoch_ms: int, zone: ZoneInfo) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in `zone`, the server's format for instance times."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=zone).strftime(SERVER_FORMAT)


def format_data_time(day: date, at: time) -> str:
    """The DataTime string of an instance: its day combined with a time of day."""
    return datetime.combine(day, at).strftime(SERVER_FORMAT)
