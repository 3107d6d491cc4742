"""The server guard on its own: which instances count as "already rerun", and what an
unanswered or refused query means. A scripted instance list stands in for the server."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator.journal import ChunkStatus, MemoryJournal
from rerun_orchestrator.journal._view import JobPlan, derive_chunks, job_view
from rerun_orchestrator.plan._plan import Target, Window
from rerun_orchestrator.run import Reconciler, ServerGuard
from rerun_orchestrator.run._jobs import Screened
from rerun_orchestrator.schedulerx import ApiResponse, AttemptResult, Verdict
from rerun_orchestrator.schedulerx._errors import ApiCallError
from rerun_orchestrator.schedulerx._wire import InstanceListPage, InstanceListQuery, JobInstance

TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)
D0 = date(2024, 1, 1)
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=ZONE).timestamp()


def at(seconds_ago: float) -> str:
    return datetime.fromtimestamp(NOW - seconds_ago, ZONE).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Lister:
    instances: list[JobInstance]
    error: ApiCallError | None = None
    queries: list[InstanceListQuery] = field(default_factory=list)

    async def get_job_instance_list(self, query: InstanceListQuery) -> InstanceListPage:
        self.queries.append(query)
        if self.error is not None:
            raise self.error
        rows = tuple(self.instances) if query.page_num == 1 else ()
        return InstanceListPage(rows, len(self.instances), query.page_num, query.page_size)


def instance(n: int, day: int, *, trigger: int = 2, ago: float = 3600.0) -> JobInstance:
    return JobInstance(n, 1, 4, trigger, f"2024-01-{day:02d} 10:00:00", at(ago))


def setup(lister: Lister, days: int = 6):
    clock = FakeClock()
    clock.advance(NOW - clock.wall())
    journal = MemoryJournal(plan_name="p", clock=clock)
    window = Window(D0, D0 + timedelta(days=days - 1))
    target = Target("cn-hangzhou", "ns-1", None, "g1", "10:00:00", 3, ((1, 1),), (window,))
    job = JobPlan(target, 1)
    reconciler = Reconciler(lister, clock=clock, timezone=TZ, max_query_attempts=1)
    guard = ServerGuard(reconciler, journal, "p", TZ, lookback_seconds=7 * 86400, clock=clock)
    view = job_view(journal, job)
    return guard, journal, job, view, derive_chunks(view, ZONE, retry_failed=False)


@pytest.mark.asyncio
async def test_reruns_within_the_lookback_are_recorded_and_the_rest_sent() -> None:
    lister = Lister(
        [
            instance(11, 1),
            instance(12, 2),
            instance(13, 4, trigger=1),  # a scheduled run, not a rerun
            instance(14, 5, ago=8 * 86400),  # a rerun before the lookback
        ]
    )
    guard, journal, job, _, chunks = await _screen(lister)
    assert guard.found_days == 2
    records = journal.job_records(job.identity, D0, D0 + timedelta(days=5))
    assert [(r.chunk.first_day.day, r.chunk.last_day.day, r.status) for r in records] == [
        (1, 2, ChunkStatus.SUCCEEDED)
    ]
    assert records[0].instance_ids == (11, 12)
    assert "found on the server" in (records[0].reason or "")
    spans = [
        (c.first_day.day, c.last_day.day)
        for c in derive_chunks(job_view(journal, job), ZONE, retry_failed=False)
    ]
    assert spans == [(3, 5), (6, 6)]
    assert len(lister.queries) == 2  # both readings of the time filter
    assert chunks  # what was there to screen


@pytest.mark.asyncio
async def test_nothing_found_sends_and_a_job_is_asked_once_per_run() -> None:
    lister = Lister([instance(13, 4, trigger=1)])
    guard, _, _, view, chunks = setup(lister)
    assert await guard.screen(view, chunks) is Screened.SEND
    assert await guard.screen(view, chunks) is Screened.SEND
    assert len(lister.queries) == 2


@pytest.mark.asyncio
async def test_an_unanswered_query_holds_the_job_back_and_a_refusal_lets_it_go() -> None:
    busy = AttemptResult(
        Verdict.RETRY, "throttled", ApiResponse(400, "R", "Throttling.User", None, "slow")
    )
    lister = Lister([], error=ApiCallError("GetJobInstanceList", busy))
    guard, _, _, view, chunks = setup(lister)
    assert await guard.screen(view, chunks) is Screened.HOLD
    assert guard.unanswered_jobs == 1
    refused = AttemptResult(
        Verdict.PERMANENT, "refused", ApiResponse(200, "R", 500, False, "job not existed")
    )
    lister = Lister([], error=ApiCallError("GetJobInstanceList", refused))
    guard, _, _, view, chunks = setup(lister)
    assert await guard.screen(view, chunks) is Screened.SEND


async def _screen(lister: Lister):
    guard, journal, job, view, chunks = setup(lister)
    assert await guard.screen(view, chunks) is Screened.DERIVE_AGAIN
    return guard, journal, job, view, chunks


@pytest.mark.asyncio
@pytest.mark.parametrize("reading", ["schedule_time", "data_time"])
async def test_once_the_servers_reading_is_learned_a_job_takes_one_look_up(reading) -> None:
    """Two reads per job set the pace of many short jobs; the watcher's learned reading
    halves them, and the one asked is that reading's window."""
    both = Lister([instance(11, 1)])
    setup(both)[0]
    guard, _, _, view, chunks = setup(both)
    await guard.screen(view, chunks)
    one = Lister([instance(11, 1)])
    guard, journal, job, view, chunks = setup(one)
    guard.reading = lambda: reading
    assert await guard.screen(view, chunks) is Screened.DERIVE_AGAIN
    assert len(one.queries) == 1
    windows = [(q.start_timestamp, q.end_timestamp) for q in both.queries]
    assert (one.queries[0].start_timestamp, one.queries[0].end_timestamp) == windows[
        0 if reading == "schedule_time" else 1
    ]
    assert guard.found_days == 1  # what it finds there still counts
    assert journal.job_records(job.identity, D0, D0)[0].status is ChunkStatus.SUCCEEDED
