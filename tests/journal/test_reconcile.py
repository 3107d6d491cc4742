"""Reconciliation: the pure judgement, and the async shell against a fake server that may
filter GetJobInstanceList on either time, in either order, with capped pages."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from rerun_orchestrator.journal import ChunkRecord, ChunkStatus, ReconcileOutcome
from rerun_orchestrator.plan._model import Chunk
from rerun_orchestrator.run import Backoff
from rerun_orchestrator.run._judge import judge_instances, server_time_to_epoch
from rerun_orchestrator.run._reconcile import Reconciler
from rerun_orchestrator.schedulerx._errors import ApiCallError, CredentialsError
from rerun_orchestrator.schedulerx._wire import (
    ApiResponse,
    AttemptResult,
    InstanceListPage,
    JobInstance,
    Verdict,
)

TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)
D0 = date(2024, 1, 1)
# The attempt began at 2024-06-01 12:00:00 Shanghai time.
STARTED = datetime(2024, 6, 1, 12, 0, 0, tzinfo=ZONE).timestamp()


def _fmt(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, ZONE).strftime("%Y-%m-%d %H:%M:%S")


def inst(iid, day, *, scheduled=STARTED + 1, job=1, trigger=2, at="10:00:00") -> JobInstance:
    return JobInstance(
        instance_id=iid,
        job_id=job,
        status=4,
        trigger_type=trigger,
        data_time=f"{day.isoformat()} {at}",
        schedule_time=_fmt(scheduled),
    )


# -- the pure judgement ------------------------------------------------------------------


def test_every_day_found_is_found(chunk) -> None:
    c = chunk(1, D0, 3)
    found = [inst(12, D0 + timedelta(days=2)), inst(10, D0), inst(11, D0 + timedelta(days=1))]
    verdict = judge_instances(found, c, STARTED, timezone=TZ, skew=300)
    assert verdict.outcome is ReconcileOutcome.FOUND
    assert verdict.instance_ids == (10, 11, 12)
    assert "all 3 day(s)" in verdict.reason


def test_nothing_found_is_absent(chunk) -> None:
    verdict = judge_instances([], chunk(1, D0, 3), STARTED, timezone=TZ, skew=300)
    assert verdict.outcome is ReconcileOutcome.ABSENT
    assert "2024-01-01, 2024-01-02, 2024-01-03" in verdict.reason


def test_some_days_only_is_undecidable_and_names_the_missing(chunk) -> None:
    c = chunk(1, D0, 10)
    verdict = judge_instances(
        [inst(5, D0), inst(6, D0 + timedelta(days=9))], c, STARTED, timezone=TZ, skew=300
    )
    assert verdict.outcome is ReconcileOutcome.UNDECIDABLE
    assert verdict.instance_ids == (5, 6)
    assert "only 2 of 10 day(s)" in verdict.reason
    assert "missing 2024-01-02, 2024-01-03, 2024-01-04, 2024-01-05, 2024-01-06 and 3 more" in (
        verdict.reason
    )


@pytest.mark.parametrize(
    "noise",
    [
        pytest.param({"job": 2}, id="another job"),
        pytest.param({"scheduled": STARTED - 302}, id="scheduled before the attempt"),
        pytest.param({"scheduled": STARTED - 302, "trigger": 1}, id="the day's scheduled run"),
    ],
)
def test_instances_that_are_not_this_rerun_do_not_count(chunk, noise) -> None:
    verdict = judge_instances([inst(1, D0, **noise)], chunk(1, D0), STARTED, timezone=TZ, skew=300)
    assert verdict.outcome is ReconcileOutcome.ABSENT


@pytest.mark.parametrize("trigger", [1, 3, 4, 5, 0, 77])
def test_another_trigger_type_on_our_days_since_the_attempt_is_a_doubt(chunk, trigger) -> None:
    """Issue 11: a server that labels reruns otherwise must not read as 'no rerun'."""
    verdict = judge_instances(
        [inst(1, D0, trigger=trigger)], chunk(1, D0), STARTED, timezone=TZ, skew=300
    )
    assert verdict.outcome is ReconcileOutcome.UNDECIDABLE
    assert "trigger type other than a rerun's" in verdict.reason


def test_a_day_outside_the_chunk_does_not_count(chunk) -> None:
    c = chunk(1, D0 + timedelta(days=1), 1)
    verdict = judge_instances(
        [inst(1, D0), inst(2, D0 + timedelta(days=2))], c, STARTED, timezone=TZ, skew=300
    )
    assert verdict.outcome is ReconcileOutcome.ABSENT


def test_schedule_time_is_read_in_the_servers_zone_at_second_precision(chunk) -> None:
    c = chunk(1, D0)
    # 12:00:00 Shanghai; the attempt began 0.7 s later (server strings drop the fraction).
    on_time = inst(1, D0, scheduled=STARTED)
    verdict = judge_instances([on_time], c, STARTED + 0.7, timezone=TZ, skew=0)
    assert verdict.outcome is ReconcileOutcome.FOUND
    # Read as UTC the same string would be 8 h later and wrongly count; in Shanghai it is
    # 2 hours before an attempt at 14:00, hence not this rerun.
    verdict = judge_instances([on_time], c, STARTED + 7200, timezone=TZ, skew=0)
    assert verdict.outcome is ReconcileOutcome.ABSENT
    assert server_time_to_epoch("2024-06-01 12:00:00", ZONE) == STARTED


def test_two_instances_for_a_day_are_found_and_flagged(chunk) -> None:
    verdict = judge_instances(
        [inst(1, D0), inst(2, D0)], chunk(1, D0), STARTED, timezone=TZ, skew=9
    )
    assert verdict.outcome is ReconcileOutcome.FOUND
    assert verdict.instance_ids == (1, 2)
    assert "1 day(s) have more than one" in verdict.reason


def test_unreadable_times_are_undecidable_not_absent(chunk) -> None:
    bad = JobInstance(1, 1, 4, 2, f"{D0} 10:00:00", "yesterday-ish")
    verdict = judge_instances([bad], chunk(1, D0), STARTED, timezone=TZ, skew=300)
    assert verdict.outcome is ReconcileOutcome.UNDECIDABLE
    assert "unreadable" in verdict.reason


@given(
    days=st.integers(1, 12),
    present=st.sets(st.integers(0, 11)),
    noise=st.lists(
        st.tuples(st.integers(-3, 15), st.sampled_from([1, 3, 4, 5]), st.booleans()), max_size=8
    ),
    extra=st.integers(0, 2),
)
def test_judgement_properties(days, present, noise, extra) -> None:
    c = _chunk_for(days)
    present = {d for d in present if d < days}
    ours = [inst(100 + d, D0 + timedelta(days=d)) for d in sorted(present)]
    ours += [inst(200 + d, D0 + timedelta(days=d)) for d in sorted(present)[:extra]]
    # noise: other trigger types, or reruns scheduled long before the attempt
    others = [
        inst(
            1000 + i,
            D0 + timedelta(days=offset),
            trigger=trigger if not old else 2,
            scheduled=STARTED - 3600 if old else STARTED + 5,
        )
        for i, (offset, trigger, old) in enumerate(noise)
    ]
    verdict = judge_instances(others + ours, c, STARTED, timezone=TZ, skew=300)
    # another trigger type on the chunk's days since the attempt: maybe ours, labelled otherwise
    doubt = any(0 <= offset < days and not old for offset, _, old in noise)
    if len(present) == days:
        assert verdict.outcome is ReconcileOutcome.FOUND
    elif not present and not doubt:
        assert verdict.outcome is ReconcileOutcome.ABSENT
    else:
        assert verdict.outcome is ReconcileOutcome.UNDECIDABLE
    assert verdict.instance_ids == tuple(sorted(i.instance_id for i in ours))


def _chunk_for(days: int) -> Chunk:
    last = D0 + timedelta(days=days - 1)
    return Chunk("k", "cn-hangzhou", "ns", None, "g", 1, D0, last, 0, 0, "10:00:00", days)


# -- the async shell ----------------------------------------------------------------------


class FakeServer:
    """GetJobInstanceList over a list of instances, filtering as a real server might."""

    def __init__(
        self,
        instances,
        *,
        reading="schedule_time",
        order="newest_first",
        page_cap=None,
        failures=(),
        clock=None,
    ) -> None:
        self.instances = list(instances)
        self.reading = reading
        self.order = order
        self.page_cap = page_cap
        self.failures = list(failures)
        self.clock = clock
        self.queries = []
        self.query_times = []

    def _moment(self, i: JobInstance) -> int:
        text = i.schedule_time if self.reading == "schedule_time" else i.data_time
        return int(server_time_to_epoch(text, ZONE) * 1000)

    async def get_job_instance_list(self, query) -> InstanceListPage:
        self.queries.append(query)
        if self.clock is not None:
            self.query_times.append(self.clock.wall())
        if self.failures:
            raise self.failures.pop(0)
        rows = [
            i
            for i in self.instances
            if query.start_timestamp <= self._moment(i) <= query.end_timestamp
        ]
        rows.sort(key=lambda i: (server_time_to_epoch(i.schedule_time, ZONE), i.instance_id))
        if self.order == "newest_first":
            rows.reverse()
        size = min(query.page_size, self.page_cap or query.page_size)
        start = (query.page_num - 1) * size
        total = None if self.page_cap else len(rows)
        return InstanceListPage(tuple(rows[start : start + size]), total, query.page_num, size)


def _record(c, started=STARTED) -> ChunkRecord:
    return ChunkRecord(c, ChunkStatus.IN_FLIGHT, attempts=1, attempt_started_at=started)


def _error(verdict: Verdict, code="Throttling.User", retry_after_ms=None) -> ApiCallError:
    response = ApiResponse(400, "REQ-1", code, None, "slow down", retry_after_ms=retry_after_ms)
    return ApiCallError("GetJobInstanceList", AttemptResult(verdict, "throttled", response))


@pytest.fixture
def late_clock(clock):
    """A clock a minute after the attempt began: settled."""
    clock.advance(STARTED + 60 - clock.wall())
    return clock


def _history(c, *, ours: bool):
    """The job's daily scheduled runs for a year, plus, if `ours`, this chunk's rerun."""
    rows = [
        inst(
            5000 + n,
            date(2024, 1, 1) + timedelta(days=n),
            trigger=1,
            scheduled=datetime(2024, 1, 1, 10, tzinfo=ZONE).timestamp() + n * 86400,
        )
        for n in range(160)
    ]
    if ours:
        rows += [inst(900 + d, c.first_day + timedelta(days=d)) for d in range(c.days)]
    return rows


@pytest.mark.asyncio
@pytest.mark.parametrize("reading", ["schedule_time", "data_time"])
@pytest.mark.parametrize("order", ["newest_first", "oldest_first"])
@pytest.mark.parametrize("page_cap", [None, 7])
@pytest.mark.parametrize("ours", [True, False])
async def test_either_server_reading_gives_the_right_answer(
    chunk, late_clock, reading, order, page_cap, ours
) -> None:
    c = chunk(1, date(2024, 3, 1), 5)
    server = FakeServer(_history(c, ours=ours), reading=reading, order=order, page_cap=page_cap)
    reconciler = Reconciler(server, clock=late_clock, timezone=TZ, page_size=10)
    verdict = await reconciler.reconcile(_record(c))
    if ours:
        assert verdict.outcome is ReconcileOutcome.FOUND
        assert verdict.instance_ids == (900, 901, 902, 903, 904)
    else:
        assert verdict.outcome is ReconcileOutcome.ABSENT
        assert verdict.instance_ids == ()


@pytest.mark.asyncio
async def test_the_two_windows_cover_both_readings(chunk, late_clock) -> None:
    c = chunk(1, date(2024, 3, 1), 5)
    server = FakeServer([])
    await Reconciler(server, clock=late_clock, timezone=TZ, clock_skew_seconds=120).reconcile(
        _record(c)
    )
    windows = [(q.start_timestamp, q.end_timestamp, q.page_num, q.job_id) for q in server.queries]
    midnight_after = int(datetime(2024, 3, 6, tzinfo=ZONE).timestamp() * 1000)
    assert windows == [
        (int((STARTED - 120) * 1000), int((late_clock.wall() + 120) * 1000), 1, 1),
        (c.start_date, midnight_after, 1, 1),
    ]
    assert {(q.region, q.namespace, q.group_id) for q in server.queries} == {
        (c.region, c.namespace, c.group_id)
    }


@pytest.mark.asyncio
async def test_waits_until_the_server_has_had_time_to_create_instances(chunk, clock) -> None:
    clock.advance(STARTED + 2 - clock.wall())  # the crash was 2 s after the attempt began
    server = FakeServer([], clock=clock)
    reconciler = Reconciler(server, clock=clock, timezone=TZ, settle_seconds=10)
    verdict = await reconciler.reconcile(_record(chunk(1, D0)))
    assert verdict.outcome is ReconcileOutcome.ABSENT
    assert clock.sleeps == [pytest.approx(8.0)]
    assert min(server.query_times) >= STARTED + 10


@pytest.mark.asyncio
async def test_never_sent_is_absent_without_asking(chunk, clock) -> None:
    server = FakeServer([])
    record = ChunkRecord(chunk(1, D0), ChunkStatus.IN_FLIGHT)
    verdict = await Reconciler(server, clock=clock, timezone=TZ).reconcile(record)
    assert verdict.outcome is ReconcileOutcome.ABSENT
    assert server.queries == []
    assert clock.sleeps == []


@pytest.mark.asyncio
async def test_every_query_waits_for_the_quota(chunk, late_clock) -> None:
    c = chunk(1, date(2024, 3, 1), 5)
    server = FakeServer(_history(c, ours=True), page_cap=7)
    acquired = []

    async def acquire() -> None:
        acquired.append(len(server.queries))  # before the query it paces

    reconciler = Reconciler(server, clock=late_clock, timezone=TZ, acquire=acquire)
    await reconciler.reconcile(_record(c))
    assert len(server.queries) > 2
    assert acquired == list(range(len(server.queries)))


@pytest.mark.asyncio
async def test_throttled_queries_back_off_and_retry(chunk, late_clock) -> None:
    c = chunk(1, D0)
    failures = [_error(Verdict.RETRY, retry_after_ms=2500), _error(Verdict.RETRY)]
    server = FakeServer([inst(7, D0, scheduled=late_clock.wall() - 30)], failures=failures)
    reconciler = Reconciler(server, clock=late_clock, timezone=TZ, rng=random.Random(7))
    with capture_logs() as logs:
        verdict = await reconciler.reconcile(_record(c))
    assert verdict.outcome is ReconcileOutcome.FOUND
    # the server's hint, then the shared full-jitter backoff (1 s doubled) with our randomness
    assert late_clock.sleeps == [2.5, Backoff(1.0, 30.0).delay(2, random.Random(7))]
    first = logs[0]
    assert first["event"] == "rerun.reconcile.query"
    assert (first["code"], first["request_id"], first["instances"]) == (
        "Throttling.User",
        "REQ-1",
        None,
    )
    assert logs[-1] == {
        "event": "rerun.reconcile",
        "log_level": "info",
        "chunk": c.key,
        "job_id": 1,
        "outcome": "found",
        "reason": verdict.reason,
        "instance_ids": [7],
        "pages": 2,
    }
    assert not any(e["event"] == "rerun.attempt" for e in logs)


@pytest.mark.asyncio
async def test_a_query_that_keeps_failing_is_undecidable(chunk, late_clock) -> None:
    server = FakeServer([], failures=[_error(Verdict.RETRY, code="InternalError")] * 10)
    reconciler = Reconciler(server, clock=late_clock, timezone=TZ, max_query_attempts=3)
    verdict = await reconciler.reconcile(_record(chunk(1, D0)))
    assert verdict.outcome is ReconcileOutcome.UNDECIDABLE
    assert "InternalError" in verdict.reason
    assert "nothing was resent" in verdict.reason
    assert len(server.queries) == 3


@pytest.mark.asyncio
async def test_a_refused_query_is_not_retried(chunk, late_clock) -> None:
    server = FakeServer([], failures=[_error(Verdict.PERMANENT, code="Forbidden.RAM")])
    verdict = await Reconciler(server, clock=late_clock, timezone=TZ).reconcile(
        _record(chunk(1, D0))
    )
    assert verdict.outcome is ReconcileOutcome.UNDECIDABLE
    assert "Forbidden.RAM" in verdict.reason
    assert len(server.queries) == 1


@pytest.mark.asyncio
async def test_missing_credentials_are_undecidable(chunk, late_clock) -> None:
    server = FakeServer([], failures=[CredentialsError("no credentials found")])
    verdict = await Reconciler(server, clock=late_clock, timezone=TZ).reconcile(
        _record(chunk(1, D0))
    )
    assert verdict.outcome is ReconcileOutcome.UNDECIDABLE
    assert "no credentials found" in verdict.reason


@pytest.mark.asyncio
async def test_too_many_instances_is_undecidable(chunk, late_clock) -> None:
    c = chunk(1, date(2024, 3, 1), 5)
    minutely = [inst(i, D0, trigger=1, scheduled=STARTED + i) for i in range(31)]
    server = FakeServer(minutely)
    reconciler = Reconciler(server, clock=late_clock, timezone=TZ, page_size=10, max_pages=3)
    verdict = await reconciler.reconcile(_record(c))
    assert verdict.outcome is ReconcileOutcome.UNDECIDABLE
    assert "too many to check" in verdict.reason


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="settle_seconds"):
        Reconciler(FakeServer([]), timezone=TZ, settle_seconds=-1)
    with pytest.raises(ValueError, match="page_size"):
        Reconciler(FakeServer([]), timezone=TZ, page_size=0)
    assert "Asia/Shanghai" in repr(Reconciler(FakeServer([]), timezone=TZ))
