"""Local midnights in epoch ms, DST included, and windows cut into chunks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rerun_orchestrator.plan._calendar import (
    chunks_in_window,
    cut_window,
    day_count,
    local_midnight_ms,
    utc_offset_at,
)

DST_ZONES = [
    "America/Sao_Paulo",  # historic DST that started at midnight
    "America/Havana",  # DST starts at midnight
    "Asia/Beirut",  # DST starts at midnight
    "Europe/London",
    "Asia/Shanghai",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "America/Santiago",
    "Pacific/Apia",  # skipped 2011-12-30 entirely
    "America/St_Johns",
    "Asia/Tehran",
    "UTC",
]


def _utc_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("zone", "day", "expected_utc"),
    [
        # The reference's example: 2022-02-22 00:00 Beijing is 1645459200000.
        ("Asia/Shanghai", date(2022, 2, 22), (2022, 2, 21, 16)),
        ("Europe/London", date(2024, 1, 15), (2024, 1, 15, 0)),
        ("Europe/London", date(2024, 7, 15), (2024, 7, 14, 23)),
        # DST begins at 01:00 in London: midnight exists, at the winter offset.
        ("Europe/London", date(2024, 3, 31), (2024, 3, 31, 0)),
        # Sao Paulo 2018-11-04: 00:00 -03 jumped to 01:00 -02, i.e. 03:00 UTC.
        ("America/Sao_Paulo", date(2018, 11, 4), (2018, 11, 4, 3)),
        # Sao Paulo 2018-02-18: 00:00 -02 fell back to 23:00 -03; midnight is 00:00 -03.
        ("America/Sao_Paulo", date(2018, 2, 18), (2018, 2, 18, 3)),
        # Havana 2024-03-10: 00:00 -05 jumped to 01:00 -04, i.e. 05:00 UTC.
        ("America/Havana", date(2024, 3, 10), (2024, 3, 10, 5)),
        # Beirut 2024-03-31: 00:00 +02 jumped to 01:00 +03, i.e. 22:00 UTC the day before.
        ("Asia/Beirut", date(2024, 3, 31), (2024, 3, 30, 22)),
        # Lord Howe gains 30 minutes at 02:00; midnight is +10:30.
        ("Australia/Lord_Howe", date(2024, 10, 6), (2024, 10, 5, 13, 30)),
        ("Australia/Lord_Howe", date(2024, 12, 1), (2024, 11, 30, 13)),
        # Apia skipped 2011-12-30: its "midnight" is the instant the 31st began.
        ("Pacific/Apia", date(2011, 12, 30), (2011, 12, 30, 10)),
        ("Pacific/Apia", date(2011, 12, 31), (2011, 12, 30, 10)),
    ],
)
def test_local_midnight_known_values(zone: str, day: date, expected_utc: tuple[int, ...]) -> None:
    assert local_midnight_ms(day, ZoneInfo(zone)) == _utc_ms(*expected_utc)


def test_reference_example_start_and_end_dates() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    assert local_midnight_ms(date(2022, 2, 22), zone) == 1645459200000
    assert local_midnight_ms(date(2022, 2, 25), zone) == 1645718400000


@settings(max_examples=400, deadline=None)
@given(
    zone=st.sampled_from(DST_ZONES),
    day=st.dates(min_value=date(1970, 1, 2), max_value=date(2037, 12, 31)),
)
def test_midnight_is_the_first_instant_of_its_day(zone: str, day: date) -> None:
    tz = ZoneInfo(zone)
    ms = local_midnight_ms(day, tz)
    at = datetime.fromtimestamp(ms / 1000, tz)
    before = datetime.fromtimestamp(ms / 1000 - 1, tz)
    if zone == "Pacific/Apia" and day == date(2011, 12, 30):
        return  # the day that never was: covered by the known values above
    assert at.date() == day
    assert before.date() < day or (before.replace(tzinfo=None) > at.replace(tzinfo=None))
    # Exactly midnight unless a DST gap swallowed it.
    if (at.hour, at.minute, at.second) != (0, 0, 0):
        assert at.utcoffset() != before.utcoffset()


@settings(max_examples=200, deadline=None)
@given(
    zone=st.sampled_from(DST_ZONES),
    day=st.dates(min_value=date(1970, 1, 2), max_value=date(2037, 12, 30)),
)
def test_midnights_increase_day_by_day(zone: str, day: date) -> None:
    tz = ZoneInfo(zone)
    gap = local_midnight_ms(day + timedelta(days=1), tz) - local_midnight_ms(day, tz)
    # 23 to 25 hours, or 0 for a day a zone skipped.
    assert gap == 0 or 22 * 3_600_000 <= gap <= 26 * 3_600_000


@given(
    first=st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 1, 1)),
    length=st.integers(min_value=1, max_value=800),
    chunk_days=st.integers(min_value=1, max_value=400),
)
def test_cut_window_covers_each_day_once_in_order(
    first: date, length: int, chunk_days: int
) -> None:
    last = first + timedelta(days=length - 1)
    spans = list(cut_window(first, last, chunk_days))
    assert len(spans) == chunks_in_window(first, last, chunk_days)
    days = [a + timedelta(days=i) for a, b in spans for i in range(day_count(a, b))]
    assert days == [first + timedelta(days=i) for i in range(length)]
    assert all(day_count(a, b) == chunk_days for a, b in spans[:-1])
    assert 1 <= day_count(*spans[-1]) <= chunk_days


def test_day_count_of_reversed_range_is_zero() -> None:
    assert day_count(date(2024, 1, 2), date(2024, 1, 1)) == 0
    assert chunks_in_window(date(2024, 1, 2), date(2024, 1, 1), 7) == 0


def test_utc_offset_at_noon() -> None:
    assert utc_offset_at(date(2024, 7, 1), ZoneInfo("Europe/London")) == timedelta(hours=1)
    assert utc_offset_at(date(2024, 7, 1), ZoneInfo("Asia/Shanghai")) == timedelta(hours=8)


def test_cut_window_at_the_end_of_the_calendar() -> None:
    last = date.max
    assert list(cut_window(last - timedelta(days=2), last, 2)) == [
        (last - timedelta(days=2), last - timedelta(days=1)),
        (last, last),
    ]
