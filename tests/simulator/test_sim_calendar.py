"""Days cut in the server's timezone: DST changes, month ends, zones east and west."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rerun_orchestrator.simulator._calendar import (
    day_of,
    days_between,
    format_data_time,
    format_ms,
    load_zone,
    local_ms,
    parse_time_of_day,
)

SHANGHAI = load_zone("Asia/Shanghai")
SAO_PAULO = load_zone("America/Sao_Paulo")
LONDON = load_zone("Europe/London")
MIDNIGHT = time(0, 0, 0)


def span(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_sao_paulo_dst_start_skips_midnight_and_the_day_still_counts() -> None:
    # 2018-11-04: clocks jumped from 00:00 to 01:00, so that day's midnight never existed.
    start = local_ms(date(2018, 11, 3), MIDNIGHT, SAO_PAULO)
    first_instant = local_ms(date(2018, 11, 4), MIDNIGHT, SAO_PAULO)
    end = local_ms(date(2018, 11, 5), MIDNIGHT, SAO_PAULO)
    assert format_ms(first_instant, SAO_PAULO) == "2018-11-04 01:00:00"
    assert (first_instant - start) == 24 * 3_600_000  # 00:00 -> 01:00 next day is 24 h
    assert days_between(start, end, SAO_PAULO) == span(date(2018, 11, 3), date(2018, 11, 5))
    assert days_between(first_instant, first_instant, SAO_PAULO) == [date(2018, 11, 4)]


@pytest.mark.parametrize(
    ("first", "last", "hours"),
    [
        (date(2024, 3, 30), date(2024, 4, 1), 47),  # spring forward: a 23-hour day
        (date(2024, 10, 26), date(2024, 10, 28), 49),  # fall back: a 25-hour day
    ],
)
def test_london_dst_days_are_whole_calendar_days(first: date, last: date, hours: int) -> None:
    start, end = local_ms(first, MIDNIGHT, LONDON), local_ms(last, MIDNIGHT, LONDON)
    assert end - start == hours * 3_600_000
    assert days_between(start, end, LONDON) == span(first, last)
    # One instant before the last midnight still belongs to the day before.
    assert days_between(start, end - 1, LONDON) == span(first, last - timedelta(days=1))


@pytest.mark.parametrize(
    ("first", "last", "count"),
    [
        (date(2024, 1, 30), date(2024, 3, 1), 32),  # leap February
        (date(2023, 2, 27), date(2023, 3, 2), 4),
        (date(2023, 12, 31), date(2024, 1, 1), 2),  # year end
        (date(2024, 4, 30), date(2024, 5, 1), 2),
    ],
)
def test_month_and_year_ends(first: date, last: date, count: int) -> None:
    days = days_between(
        local_ms(first, MIDNIGHT, SHANGHAI), local_ms(last, MIDNIGHT, SHANGHAI), SHANGHAI
    )
    assert days == span(first, last)
    assert len(days) == count


def test_reference_example_range_in_shanghai() -> None:
    # The doc's StartDate/EndDate: midnight UTC+8 on 2022-02-22 and 2022-02-25.
    days = days_between(1_645_459_200_000, 1_645_718_400_000, SHANGHAI)
    assert days == span(date(2022, 2, 22), date(2022, 2, 25))


def test_midnight_east_of_the_server_falls_on_the_servers_previous_day() -> None:
    tokyo = load_zone("Asia/Tokyo")
    tokyo_midnight = local_ms(date(2024, 5, 10), MIDNIGHT, tokyo)
    assert day_of(tokyo_midnight, SHANGHAI) == date(2024, 5, 9)


def test_a_non_midnight_instant_names_its_whole_day() -> None:
    noonish = local_ms(date(2024, 5, 10), time(13, 37, 1), SHANGHAI)
    late = local_ms(date(2024, 5, 12), time(23, 59, 59), SHANGHAI)
    assert days_between(noonish, late, SHANGHAI) == span(date(2024, 5, 10), date(2024, 5, 12))


def test_end_day_before_start_day_is_empty() -> None:
    assert days_between(1_645_718_400_000, 1_645_459_200_000, SHANGHAI) == []


@given(
    first=st.dates(min_value=date(1990, 1, 1), max_value=date(2037, 12, 31)),
    length=st.integers(min_value=0, max_value=400),
    zone=st.sampled_from(["Asia/Shanghai", "America/Sao_Paulo", "Europe/London", "Pacific/Apia"]),
)
def test_local_midnights_always_give_exactly_the_days(first: date, length: int, zone: str) -> None:
    tz = load_zone(zone)
    last = first + timedelta(days=length)
    days = days_between(local_ms(first, MIDNIGHT, tz), local_ms(last, MIDNIGHT, tz), tz)
    assert days == span(first, last)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("10:00:00", True),
        ("00:00:00", True),
        ("23:59:59", True),
        ("24:00:00", False),
        ("9:00:00", False),
        ("10:00", False),
        ("10:00:00 ", False),
        ("aa:bb:cc", False),
    ],
)
def test_data_time_must_be_strict_hh_mm_ss(text: str, ok: bool) -> None:
    assert (parse_time_of_day(text) is not None) is ok


def test_data_time_string_is_day_plus_time_even_inside_a_dst_gap() -> None:
    # The DataTime string is the calendar day and the requested time, as written,
    # even when that wall time does not exist in the server's zone.
    assert format_data_time(date(2018, 11, 4), time(0, 30, 0)) == "2018-11-04 00:30:00"
    gap = local_ms(date(2018, 11, 4), time(0, 30, 0), SAO_PAULO)
    assert format_ms(gap, SAO_PAULO) == "2018-11-04 01:30:00"
    assert datetime.fromtimestamp(gap / 1000, tz=UTC).hour == 3


def test_unknown_zone_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        load_zone("Mars/Olympus")
