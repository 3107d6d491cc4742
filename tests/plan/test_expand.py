"""Expansion: every day of every job's windows exactly once, in order, lazily, with stable keys."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rerun_orchestrator.plan import (
    Chunk,
    Execution,
    JobSet,
    Plan,
    Rate,
    Target,
    Window,
    check_plan_text,
    chunk_key,
)
from rerun_orchestrator.plan._calendar import local_midnight_ms

ZONES = [
    "America/Sao_Paulo",
    "America/Havana",
    "Asia/Beirut",
    "Europe/London",
    "Asia/Shanghai",
    "Australia/Lord_Howe",
    "America/New_York",
    "Pacific/Chatham",
]


@st.composite
def windows(draw: st.DrawFn) -> tuple[Window, ...]:
    """Disjoint windows, in a random order (plans list them as people think of them)."""
    count = draw(st.integers(min_value=1, max_value=4))
    start = draw(st.dates(min_value=date(1985, 1, 1), max_value=date(2035, 1, 1)))
    spans = []
    for _ in range(count):
        start += timedelta(days=draw(st.integers(min_value=0, max_value=40)))
        end = start + timedelta(days=draw(st.integers(min_value=0, max_value=120)))
        spans.append(Window(start, end))
        start = end + timedelta(days=1)
    return tuple(draw(st.permutations(spans)))


@st.composite
def targets(draw: st.DrawFn, index: int) -> Target:
    base = 1000 * (index + 1)
    firsts = draw(st.lists(st.integers(0, 900), min_size=1, max_size=3, unique=True))
    jobs = tuple((base + f, base + f + draw(st.integers(0, 3))) for f in firsts)
    # Overlapping job entries are a validation error, not an expansion concern: keep disjoint.
    covered: set[int] = set()
    kept = []
    for a, b in jobs:
        if not covered.intersection(range(a, b + 1)):
            kept.append((a, b))
            covered.update(range(a, b + 1))
    return Target(
        region="cn-hangzhou",
        namespace="ns",
        namespace_source=draw(st.sampled_from([None, "schedulerx"])),
        group_id=f"g{index}",
        data_time="10:00:00",
        chunk_days=draw(st.integers(min_value=1, max_value=40)),
        jobs=tuple(kept),
        windows=draw(windows()),
    )


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    count = draw(st.integers(min_value=1, max_value=3))
    return Plan(
        name="p",
        timezone=draw(st.sampled_from(ZONES)),
        targets=tuple(draw(targets(i)) for i in range(count)),
    )


@settings(max_examples=150, deadline=None)
@given(plan=plans())
def test_each_job_covers_every_day_of_its_windows_exactly_once_in_order(plan: Plan) -> None:
    chunks = list(plan.chunks())
    assert len(chunks) == plan.count_chunks()
    zone = ZoneInfo(plan.timezone)
    by_job: defaultdict[tuple[str, int], list[Chunk]] = defaultdict(list)
    for chunk in chunks:
        by_job[chunk.group_id, chunk.job_id].append(chunk)
        assert chunk.start_date <= chunk.end_date
        assert chunk.days == (chunk.last_day - chunk.first_day).days + 1
        assert chunk.start_date == local_midnight_ms(chunk.first_day, zone)
        assert chunk.end_date == local_midnight_ms(chunk.last_day, zone)
        assert datetime.fromtimestamp(chunk.start_date / 1000, zone).date() == chunk.first_day
        assert datetime.fromtimestamp(chunk.end_date / 1000, zone).date() == chunk.last_day
    for target in plan.targets:
        expected_days = [w.start + timedelta(days=i) for w in target.windows for i in range(w.days)]
        for job_id in target.job_ids():
            job_chunks = by_job[target.group_id, job_id]
            days = [c.first_day + timedelta(days=i) for c in job_chunks for i in range(c.days)]
            # Exactly once and in plan order (windows as listed, days ascending in each).
            assert days == expected_days
            assert all(c.days <= target.chunk_days for c in job_chunks)
            full = [c for c in job_chunks if c.days < target.chunk_days]
            assert len(full) <= len(target.windows)  # only a window's last chunk is short


@settings(max_examples=60, deadline=None)
@given(plan=plans())
def test_plan_order_is_targets_then_jobs_then_windows_then_dates(plan: Plan) -> None:
    chunks = iter(plan.chunks())
    for target in plan.targets:
        for job_id in target.job_ids():
            for window in target.windows:
                day = window.start
                while day <= window.end:
                    chunk = next(chunks)
                    assert (chunk.group_id, chunk.job_id, chunk.first_day) == (
                        target.group_id,
                        job_id,
                        day,
                    )
                    day = chunk.last_day + timedelta(days=1)
    assert next(chunks, None) is None


@settings(max_examples=60, deadline=None)
@given(plan=plans(), data=st.data())
def test_keys_are_unique_stable_and_order_independent(plan: Plan, data: st.DataObject) -> None:
    keys = [c.key for c in plan.chunks()]
    assert len(set(keys)) == len(keys)
    for chunk in itertools.islice(plan.chunks(), 50):
        assert chunk.key == chunk_key(
            region=chunk.region,
            namespace=chunk.namespace,
            namespace_source=chunk.namespace_source,
            group_id=chunk.group_id,
            job_id=chunk.job_id,
            first_day=chunk.first_day,
            last_day=chunk.last_day,
            data_time=chunk.data_time,
        )
    shuffled = Plan(
        name="p",
        timezone=plan.timezone,
        targets=tuple(
            Target(
                region=t.region,
                namespace=t.namespace,
                namespace_source=t.namespace_source,
                group_id=t.group_id,
                data_time=t.data_time,
                chunk_days=t.chunk_days,
                jobs=tuple(data.draw(st.permutations(t.jobs))),
                windows=tuple(data.draw(st.permutations(t.windows))),
            )
            for t in data.draw(st.permutations(plan.targets))
        ),
    )
    assert sorted(c.key for c in shuffled.chunks()) == sorted(keys)


def test_key_differs_in_every_field() -> None:
    fields = {
        "region": "cn-hangzhou",
        "namespace": "ns",
        "namespace_source": None,
        "group_id": "g",
        "job_id": 1,
        "first_day": date(2024, 1, 1),
        "last_day": date(2024, 1, 7),
        "data_time": "10:00:00",
    }
    base = chunk_key(**fields)  # type: ignore[arg-type]
    changes = {
        "region": "cn-shanghai",
        "namespace": "ns2",
        "namespace_source": "schedulerx",
        "group_id": "g2",
        "job_id": 2,
        "first_day": date(2024, 1, 2),
        "last_day": date(2024, 1, 8),
        "data_time": "10:00:01",
    }
    for name, value in changes.items():
        assert chunk_key(**{**fields, name: value}) != base, name  # type: ignore[arg-type]
    assert chunk_key(**{**fields, "namespace_source": ""}) != base  # type: ignore[arg-type]
    assert base.startswith("1:2024-01-01:2024-01-07:")


def test_chunks_are_lazy_even_for_an_enormous_plan() -> None:
    huge = Plan(
        name="huge",
        timezone="Asia/Shanghai",
        targets=(
            Target(
                region="cn-hangzhou",
                namespace="ns",
                namespace_source=None,
                group_id="g",
                data_time="10:00:00",
                chunk_days=1,
                jobs=((1, 10**12),),
                windows=(Window(date(2000, 1, 1), date(2099, 12, 31)),),
            ),
        ),
    )
    assert huge.count_chunks() == 10**12 * 36525
    first = list(itertools.islice(huge.chunks(), 3))
    assert [c.first_day for c in first] == [date(2000, 1, 1), date(2000, 1, 2), date(2000, 1, 3)]


def test_spans_past_the_cache_limit_expand_the_same() -> None:
    window = Window(date(2000, 1, 1), date(2019, 12, 31))  # 7305 single-day chunks per job
    target = Target("cn-hangzhou", "ns", None, "g", "10:00:00", 1, ((1, 2),), (window,))
    chunks = list(Plan(name="p", timezone="Europe/London", targets=(target,)).chunks())
    assert len(chunks) == 2 * 7305
    assert chunks[7305].job_id == 2
    assert chunks[7305].first_day == window.start
    assert chunks[7305].start_date == chunks[0].start_date


def test_dst_days_map_to_their_own_midnight() -> None:
    text = """
version: 1
name: dst
timezone: America/Sao_Paulo
region: sa-east-1
namespace: ns
group: g
data_time: "10:00:00"
chunk_days: 1
targets:
  - jobs: [1]
    windows: [{start: 2018-11-03, end: 2018-11-05}]
"""
    plan, diagnostics = check_plan_text(text)
    assert diagnostics == []
    assert plan is not None
    chunks = list(plan.chunks())
    hours = [(c.end_date - c.start_date) / 3_600_000 for c in chunks]
    assert hours == [0, 0, 0]
    gaps = [(b.start_date - a.start_date) / 3_600_000 for a, b in itertools.pairwise(chunks)]
    # 2018-11-04 began at 01:00 -02 (the jump), 24 h after the 3rd began; it lasted 23 h.
    assert gaps == [24, 23]
    starts = [
        datetime.fromtimestamp(c.start_date / 1000, ZoneInfo("America/Sao_Paulo")) for c in chunks
    ]
    assert [(s.day, s.hour) for s in starts] == [(3, 0), (4, 1), (5, 0)]


def test_count_and_job_days_are_arithmetic() -> None:
    target = Target(
        "cn-hangzhou",
        "ns",
        None,
        "g",
        "10:00:00",
        7,
        ((1, 3), (10, 10)),
        (Window(date(2024, 1, 1), date(2024, 1, 31)), Window(date(2024, 3, 1), date(2024, 3, 3))),
    )
    plan = Plan(name="p", timezone="Asia/Shanghai", targets=(target,))
    assert plan.count_chunks() == 4 * (5 + 1)
    assert plan.count_job_days() == 4 * 34
    assert plan.count_chunks() == sum(1 for _ in plan.chunks())


def test_job_sets_name_every_job_without_expanding() -> None:
    plan, _ = check_plan_text(
        """
version: 1
name: js
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns
group: g
data_time: "10:00:00"
targets:
  - jobs: [5, "7-9"]
    windows: [{start: 2024-02-01, end: 2024-02-10}, {start: 2024-01-01, end: 2024-01-05}]
  - group: other
    namespace_source: src
    jobs: [1]
    windows: [{start: 2023-12-31, end: 2023-12-31}]
"""
    )
    assert plan is not None
    assert list(plan.job_sets()) == [
        JobSet(
            "cn-hangzhou", "ns", None, "g", ((5, 5), (7, 9)), date(2024, 1, 1), date(2024, 2, 10)
        ),
        JobSet(
            "cn-hangzhou", "ns", "src", "other", ((1, 1),), date(2023, 12, 31), date(2023, 12, 31)
        ),
    ]


def test_digest_ignores_formatting_and_execution_but_not_content() -> None:
    a = """
version: 1
name: d
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns
group: g
data_time: "10:00:00"
targets:
  - jobs: [1]
    windows: [{start: 2024-01-01, end: 2024-01-31}]
"""
    b = """# same plan, other layout
name: d
version: 1
timezone: Asia/Shanghai
targets:
  - windows:
      - end: "2024-01-31"
        start: 2024-01-01
    jobs: ["1"]
    namespace: ns
    region: cn-hangzhou
    group: g
    data_time: 10:00:00
execution: {rate: 5/s}
"""
    plan_a, _ = check_plan_text(a)
    plan_b, _ = check_plan_text(b)
    plan_c, _ = check_plan_text(a.replace("2024-01-31", "2024-01-30"))
    assert plan_a is not None
    assert plan_b is not None
    assert plan_c is not None
    assert len(plan_a.digest) == 64
    assert plan_a.digest == plan_b.digest
    assert plan_a.digest != plan_c.digest
    assert list(plan_a.chunks()) == list(plan_b.chunks())


def test_with_execution_overrides_and_validates() -> None:
    plan = Plan(name="p", timezone="UTC", targets=())
    faster = plan.with_execution(rate=Rate(5, 1), concurrency=8)
    assert faster.execution == Execution(rate=Rate(5, 1), concurrency=8)
    assert faster.digest == plan.digest
    assert plan.execution == Execution()
    with pytest.raises(ValueError, match="concurrency"):
        plan.with_execution(concurrency=0)
    with pytest.raises(TypeError):
        plan.with_execution(speed=3)
