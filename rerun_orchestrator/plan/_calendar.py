"""Calendar arithmetic: local midnights in epoch milliseconds, and days cut into chunks.

Pure functions of dates and a `tzinfo`; the plan's expansion and its arithmetic count both
rest on them, so they are tested directly with hypothesis against many IANA zones.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo

# Generous bounds for the search of a day's first instant: no zone has ever skipped more
# than a day and a bit (Pacific/Apia dropped 2011-12-30 entirely).
_SEARCH_SECONDS = 3 * 86_400


@functools.lru_cache(maxsize=1 << 16)  # every job of a plan has the same days: asked per chunk
def local_midnight_ms(day: date, zone: tzinfo) -> int:
    """Epoch milliseconds of 00:00:00 of `day` in `zone`.

    Where a DST change skips midnight (America/Sao_Paulo until 2018, America/Havana,
    Asia/Beirut), the day's first existing instant is used instead, i.e. the moment the
    clocks jumped. Where midnight happens twice (a fall-back across midnight), the first
    occurrence is used, so the chunk starts with the day.
    """
    naive = datetime(day.year, day.month, day.day)  # noqa: DTZ001 - a wall time, zone added next
    aware = naive.replace(tzinfo=zone)  # fold=0: the earlier of two midnights
    seconds = aware.timestamp()
    if datetime.fromtimestamp(seconds, zone).replace(tzinfo=None) == naive:
        return round(seconds * 1000)
    return round(_first_instant_at_or_after(naive, zone, seconds) * 1000)


def _first_instant_at_or_after(naive: datetime, zone: tzinfo, upper: float) -> float:
    """The first instant whose wall time in `zone` is `naive` or later (a DST gap's end).

    `upper` (midnight read with the pre-transition offset) is already at or past it; search
    down in whole seconds, which is the resolution of every offset tzdata has ever used.
    """
    hi = int(upper) + 1
    lo = hi - _SEARCH_SECONDS
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return float(hi)


def day_count(first: date, last: date) -> int:
    """Days in the inclusive range `first..last` (0 when `last` is before `first`)."""
    return max(0, (last - first).days + 1)


def chunks_in_window(first: date, last: date, chunk_days: int) -> int:
    """How many chunks `first..last` is cut into, without cutting it."""
    return -(-day_count(first, last) // chunk_days)


def cut_window(first: date, last: date, chunk_days: int) -> Iterator[tuple[date, date]]:
    """The inclusive `(first_day, last_day)` spans of a window, oldest first.

    Every span holds `chunk_days` days except perhaps the last one.
    """
    # Ordinals, not date arithmetic: no overflow one step past the last day.
    last_ordinal = last.toordinal()
    for start in range(first.toordinal(), last_ordinal + 1, chunk_days):
        yield date.fromordinal(start), date.fromordinal(min(start + chunk_days - 1, last_ordinal))


def utc_offset_at(day: date, zone: tzinfo) -> timedelta:
    """The zone's offset from UTC at noon of `day` (noon: never inside a DST gap)."""
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    offset = noon.astimezone(zone).utcoffset()
    return offset if offset is not None else timedelta(0)
