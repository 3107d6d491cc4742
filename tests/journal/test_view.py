"""A plan seen through the ledger: on an empty journal, exactly the plan's own chunks (the
contract's keys, dates and epochs); with records, only what nobody covers."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rerun_orchestrator.journal import ChunkStatus, MemoryJournal
from rerun_orchestrator.journal._view import (
    derive_chunks,
    job_view,
    make_chunk,
    plan_counts,
    plan_jobs,
)
from rerun_orchestrator.plan._model import Execution
from rerun_orchestrator.plan._plan import Plan, Target, Window

D0 = date(2024, 1, 1)

windows = st.lists(st.tuples(st.integers(0, 60), st.integers(1, 20)), min_size=1, max_size=3).map(
    # disjoint windows, listed in any order
    lambda spans: tuple(
        Window(D0 + timedelta(days=100 * i + a), D0 + timedelta(days=100 * i + a + n - 1))
        for i, (a, n) in enumerate(spans)
    )[::-1]
)
targets = st.builds(
    lambda jobs, ws, chunk_days, group: Target(
        "cn-hangzhou", "ns-1", None, group, "10:00:00", chunk_days, jobs, ws
    ),
    st.sampled_from([((1, 2),), ((5, 5), (3, 3))]),
    windows,
    st.integers(1, 9),
    st.sampled_from(["g1", "g2"]),
)


@settings(max_examples=200, deadline=None)
@given(
    targets=st.lists(targets, min_size=1, max_size=2, unique_by=lambda t: t.group_id),
    zone=st.sampled_from(["Asia/Shanghai", "America/Sao_Paulo", "UTC"]),
)
def test_on_an_empty_journal_the_derived_chunks_are_the_plans_own(targets, zone) -> None:
    plan = Plan(name="p", timezone=zone, targets=tuple(targets), execution=Execution())
    journal = MemoryJournal()
    derived = defaultdict(list)
    for job in plan_jobs(plan):
        view = job_view(journal, job)
        derived[job.target.group_id, job.job_id] += derive_chunks(
            view, ZoneInfo(zone), retry_failed=False
        )
    planned = defaultdict(list)
    for chunk in plan.chunks():
        planned[chunk.group_id, chunk.job_id].append(chunk)
    assert derived.keys() == planned.keys()
    for job, chunks in planned.items():
        assert sorted(derived[job], key=lambda c: c.first_day) == sorted(
            chunks, key=lambda c: c.first_day
        )
    counts = plan_counts(journal, plan)
    assert counts.chunks[ChunkStatus.PENDING] == plan.count_chunks()
    assert counts.days[ChunkStatus.PENDING] == plan.count_job_days()


@pytest.mark.asyncio
async def test_days_covered_by_another_plan_are_not_derived_and_are_counted_as_its() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    window = Window(D0, D0 + timedelta(days=9))
    target = Target("cn-hangzhou", "ns-1", None, "g1", "10:00:00", 4, ((1, 1),), (window,))
    plan_b = Plan(name="b", timezone="Asia/Shanghai", targets=(target,))
    journal = MemoryJournal(plan_name="a")
    (job,) = plan_jobs(plan_b)
    # plan a covered days 3..6 (a chunk of its own cut)
    covered = make_chunk(target, 1, D0 + timedelta(days=2), D0 + timedelta(days=5), zone)
    journal.propose(covered, plan="a", timezone="Asia/Shanghai")
    await journal.mark_in_flight(covered.key, 1.0)
    journal.record_outcome(covered.key, ChunkStatus.SUCCEEDED)
    spans = [
        (c.first_day.day, c.last_day.day)
        for c in derive_chunks(job_view(journal, job), zone, retry_failed=False)
    ]
    assert spans == [(1, 2), (7, 10)]
    counts = plan_counts(journal, plan_b)
    assert counts.days[ChunkStatus.SUCCEEDED] == 4
    assert counts.days[ChunkStatus.PENDING] == 6
    assert dict(counts.days_by_plan) == {"a": 4}
