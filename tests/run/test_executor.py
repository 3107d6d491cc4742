"""The executor against doubles on a fake clock: order, caps, the policy table, resume, stop."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from typing import Any

import anyio
import pytest
from structlog.testing import capture_logs

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator.journal import ChunkStatus, MemoryJournal, ReconcileOutcome
from rerun_orchestrator.plan._rate import format_rate
from rerun_orchestrator.run import (
    AttemptFinished,
    Backoff,
    RateLimiter,
    RetryBudget,
    RunEvent,
    RunFinished,
    RunStarted,
    open_run,
    run_plan,
)

CONTRACT_KEYS = {
    "chunk",
    "job_id",
    "attempt",
    "request_id",
    "http_status",
    "code",
    "outcome",
    "elapsed_ms",
}


def statuses(journal: MemoryJournal) -> dict[str, ChunkStatus]:
    return {r.key: r.status for r in journal.records()}


@pytest.mark.asyncio
async def test_every_chunk_succeeds_in_date_order_within_the_caps(write_plan, doubles) -> None:
    plan = write_plan(jobs=[1, 2, 3, 4, 5, 6], days=35, execution={"concurrency": 3})
    clock = FakeClock()
    client = doubles.Client(clock, latency=0.5)  # slower than the rate: the cap binds
    journal = MemoryJournal(clock=clock)
    with capture_logs() as logs:
        result = await run_plan(plan, client=client, journal=journal, clock=clock)
    assert result.exit_code == 0
    assert result.counts.total == result.counts.succeeded == 30
    assert result.attempts == len(client.calls) == 30
    assert set(statuses(journal).values()) == {ChunkStatus.SUCCEEDED}
    assert client.peak == 3  # the concurrency cap, and it is used
    assert client.job_peak == 1  # one call per job in flight
    by_job: dict[int, list[int]] = defaultdict(list)
    for _, params in client.calls:
        by_job[params.job_id].append(params.start_date)
    assert all(days == sorted(days) for days in by_job.values())
    # the rate: 10/s, no burst
    times = sorted(t for t, _ in client.calls)
    assert all(b - a >= 0.1 - 1e-9 for a, b in itertools.pairwise(times))
    events = [e["event"] for e in logs]
    assert events[0] == "rerun.run.started"
    assert events[-1] == "rerun.run.finished"
    assert events.count("rerun.attempt") == 30
    assert events.count("rerun.chunk.succeeded") == 30


@pytest.mark.asyncio
async def test_newest_first_reverses_each_job(write_plan, doubles) -> None:
    plan = write_plan(jobs=[1, 2], days=28, execution={"order": "newest_first"})
    clock = FakeClock()
    client = doubles.Client(clock)
    await run_plan(plan, client=client, journal=MemoryJournal(clock=clock), clock=clock)
    by_job: dict[int, list[int]] = defaultdict(list)
    for _, params in client.calls:
        by_job[params.job_id].append(params.start_date)
    assert by_job[1] == sorted(by_job[1], reverse=True)
    assert by_job[2] == sorted(by_job[2], reverse=True)


@pytest.mark.asyncio
async def test_attempt_log_lines_carry_the_contract_keys(write_plan, doubles, attempts_of) -> None:
    plan = write_plan(jobs=[1], days=14)
    clock = FakeClock()

    def script(params: Any, n: int) -> Any:
        return doubles.throttled() if n == 1 else doubles.ok(n)

    client = doubles.Client(clock, script)
    journal = MemoryJournal(clock=clock)
    with capture_logs() as logs:
        result = await run_plan(plan, client=client, journal=journal, clock=clock)
    assert result.exit_code == 0
    attempts = attempts_of(logs)
    assert len(attempts) == 2
    for entries in attempts.values():
        assert [e["outcome"] for e in entries] == ["retrying", "succeeded"]
        assert [e["attempt"] for e in entries] == [1, 2]
        first, second = entries
        assert first.keys() >= CONTRACT_KEYS
        assert first["code"] == "Throttling.User"
        assert first["http_status"] == 400
        assert first["request_id"] == "REQ-THR"
        assert second["code"] is None
        assert second["request_id"] == "REQ-OK-2"
        assert second["elapsed_ms"] == 12.0
    assert sum(e["event"] == "rerun.throttle" for e in logs) == 2
    assert result.throttled == 2


@pytest.mark.asyncio
async def test_backoff_waits_are_the_seeded_full_jitter_sequence(write_plan, doubles) -> None:
    plan = write_plan(jobs=[1], days=7, execution={"max_attempts": 5})
    clock = FakeClock()

    def script(params: Any, n: int) -> Any:
        return doubles.unavailable() if n < 5 else doubles.ok(n)

    client = doubles.Client(clock, script, latency=0.0)
    backoff = Backoff(base=1.0, cap=20.0)
    await run_plan(
        plan,
        client=client,
        journal=MemoryJournal(clock=clock),
        clock=clock,
        rng=random.Random(1234),
        backoff=backoff,
        limiter=RateLimiter(1000.0, clock=clock),
    )
    sent = [t for t, _ in client.calls]
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    replay = random.Random(1234)
    expected = [backoff.delay(n, replay) for n in range(1, 5)]
    assert gaps == pytest.approx(expected, abs=1e-3)  # plus a token at 1000/s


@pytest.mark.asyncio
async def test_permanent_refusal_fails_that_chunk_only(write_plan, doubles) -> None:
    plan = write_plan(jobs=[1, 7, 3], days=14)
    clock = FakeClock()

    def script(params: Any, n: int) -> Any:
        return doubles.refused() if params.job_id == 7 else doubles.ok(n)

    client = doubles.Client(clock, script)
    journal = MemoryJournal(clock=clock)
    with capture_logs() as logs:
        result = await run_plan(plan, client=client, journal=journal, clock=clock)
    assert result.exit_code == 1
    assert (result.counts.succeeded, result.counts.failed) == (4, 2)
    assert len(client.calls) == 6  # a refusal is never resent
    failed = [r for r in journal.records() if r.status is ChunkStatus.FAILED]
    assert {r.chunk.job_id for r in failed} == {7}
    assert all((r.code, r.message) == (500, "jobId=7 is not existed") for r in failed)
    finished = [e for e in logs if e["event"] == "rerun.chunk.failed"]
    assert len(finished) == 2
    assert finished[0]["code"] == 500
    assert finished[0]["log_level"] == "warning"


@pytest.mark.asyncio
async def test_max_attempts_bounds_a_round_not_patience(write_plan, doubles) -> None:
    """Issue 11: a chunk that keeps getting 503 is never failed; after max_attempts it
    pauses (pending, with the reason) and goes again, until the stall limit ends the run."""
    plan = write_plan(jobs=[1], days=7, execution={"max_attempts": 3})
    clock = FakeClock()
    client = doubles.Client(clock, lambda p, n: doubles.unavailable())
    journal = MemoryJournal(clock=clock)
    with capture_logs() as logs:
        result = await run_plan(
            plan,
            client=client,
            journal=journal,
            clock=clock,
            stall_timeout=600.0,
            budget=RetryBudget(floor=1000),  # this test is about max_attempts alone
        )
    assert len(client.calls) > 3  # more than one round
    (record,) = journal.records()
    assert record.status is ChunkStatus.PENDING
    assert record.code == "ServiceUnavailable"
    assert record.reason is not None
    assert "ServiceUnavailable" in record.reason
    # attempts 1-3 within a second or so (backoff 1 s, 2 s), then the round's pause (>= 10 s)
    times = [t for t, _ in client.calls]
    assert times[2] - times[0] < 3.0 <= 10.0 <= times[3] - times[2]
    outcomes = {e["outcome"] for e in logs if e["event"] == "rerun.attempt"}
    assert outcomes == {"retrying"}
    assert result.exit_code == 1
    assert result.halted is not None
    assert "no chunk settled for 600 s" in result.halted
    assert "the same command resumes" in result.halted
    assert 600.0 <= clock.now() < 600.0 + 300.0  # ended by the stall limit, not later


@pytest.mark.asyncio
async def test_a_service_that_recovers_gets_every_chunk_in_the_same_run(
    write_plan, doubles
) -> None:
    """503 for the first ten minutes, then healthy: nothing failed, nothing left pending."""
    plan = write_plan(jobs=[1, 2, 3, 4], days=7, execution={"max_attempts": 3})
    clock = FakeClock()

    def script(params: Any, n: int) -> Any:
        return doubles.unavailable() if clock.now() < 600.0 else doubles.ok(n)

    client = doubles.Client(clock, script)
    journal = MemoryJournal(clock=clock)
    result = await run_plan(plan, client=client, journal=journal, clock=clock)
    assert result.exit_code == 0
    assert result.counts.succeeded == result.counts.total == 4
    assert set(client.per_chunk.values()) != {1}


@pytest.mark.asyncio
async def test_a_spent_retry_budget_pauses_and_probes_instead_of_failing(
    write_plan, doubles
) -> None:
    jobs = list(range(1, 41))
    plan = write_plan(jobs=jobs, days=7, execution={"max_attempts": 6, "concurrency": 8})
    clock = FakeClock()
    down_until = 900.0

    def script(params: Any, n: int) -> Any:
        return doubles.unavailable() if clock.now() < down_until else doubles.ok(n)

    client = doubles.Client(clock, script, latency=0.01)
    budget = RetryBudget(ratio=0.1, floor=5)
    with capture_logs() as logs:
        result = await run_plan(
            plan,
            client=client,
            journal=MemoryJournal(clock=clock),
            clock=clock,
            budget=budget,
            limiter=RateLimiter(1000.0, clock=clock),
        )
    # While the service was down, retries were paused: the first attempts, the budget
    # and about one probe per cooldown (2 s doubling to 120 s), not 40 x 6 per round.
    during = [t for t, _ in client.calls if t < down_until]
    assert len(during) <= 40 + 5 + 0.1 * 40 + 20
    assert budget.refused > 0
    assert "rerun.retry.paused" in [e["event"] for e in logs]
    # ... and when it recovered, a probe found out and every chunk went through.
    assert result.counts.failed == 0
    assert result.counts.succeeded == 40
    assert result.exit_code == 0


@pytest.mark.asyncio
async def test_resign_once_then_give_up(write_plan, doubles) -> None:
    plan = write_plan(jobs=[1, 2], days=7)
    clock = FakeClock()

    def script(params: Any, n: int) -> Any:
        if params.job_id == 1:
            return doubles.skewed() if n == 1 else doubles.ok(n)
        return doubles.skewed()

    client = doubles.Client(clock, script, latency=0.0)
    journal = MemoryJournal(clock=clock)
    result = await run_plan(
        plan, client=client, journal=journal, clock=clock, limiter=RateLimiter(1e6, clock=clock)
    )
    by_job = {r.chunk.job_id: r for r in journal.records()}
    assert by_job[1].status is ChunkStatus.SUCCEEDED
    # A skew that survives a freshly signed resend is the machine's clock: every chunk would
    # get it, so the run halts and leaves the chunk sendable (nothing was applied).
    assert by_job[2].status is ChunkStatus.PENDING
    assert by_job[2].code == "InvalidTimeStamp.Expired"
    assert result.halted is not None
    assert "InvalidTimeStamp.Expired" in result.halted
    assert sum(p.job_id == 2 for _, p in client.calls) == 2
    job1 = [t for t, p in client.calls if p.job_id == 1]
    assert job1[1] - job1[0] < 0.01  # re-signed at once, no backoff
    assert result.exit_code == 1


@pytest.mark.parametrize(
    ("outcome", "status", "resent"),
    [
        (ReconcileOutcome.FOUND, ChunkStatus.SUCCEEDED, False),
        (ReconcileOutcome.ABSENT, ChunkStatus.SUCCEEDED, True),
        (ReconcileOutcome.UNDECIDABLE, ChunkStatus.UNKNOWN, False),
    ],
)
@pytest.mark.asyncio
async def test_ambiguous_is_never_resent_without_reconciliation(
    write_plan, doubles, outcome, status, resent
) -> None:
    plan = write_plan(jobs=[1, 2], days=14)
    clock = FakeClock()

    def script(params: Any, n: int) -> Any:
        if params.job_id == 1 and n == 1:
            return doubles.internal_error() if params.start_date % 2 == 0 else doubles.lost()
        return doubles.ok(n)

    client = doubles.Client(clock, script)
    reconciler = doubles.Reconciler(clock, lambda record: outcome)
    journal = MemoryJournal(clock=clock)
    with capture_logs() as logs:
        await run_plan(plan, client=client, journal=journal, clock=clock, reconciler=reconciler)
    job1 = [r for r in journal.records() if r.chunk.job_id == 1]
    assert {r.status for r in job1} == {status}
    assert len(reconciler.asked) == 2
    for _, asked in reconciler.asked:
        assert asked.status is ChunkStatus.UNKNOWN  # recorded as doubtful before the check
    sends = {key: n for key, n in client.per_chunk.items() if key[0] == 1}
    assert set(sends.values()) == ({2} if resent else {1})
    # every resend of a chunk comes after a reconciliation of it that proved absence
    asked_at = {rec.key: t for t, rec in reconciler.asked}
    for t, params in client.calls:
        if params.job_id == 1 and client.per_chunk[(1, params.start_date, params.end_date)] > 1:
            key = next(r.key for r in job1 if r.chunk.start_date == params.start_date)
            assert t < asked_at[key] or t >= asked_at[key] + reconciler.settle
    outcomes = [e["outcome"] for e in logs if e["event"] == "rerun.attempt" and e["job_id"] == 1]
    assert outcomes.count("unknown") == 2
    if outcome is ReconcileOutcome.FOUND:
        assert all(r.instance_ids == (1001,) for r in job1)
    reconciled = [e for e in logs if e["event"] == "rerun.chunk.reconciled"]
    assert {e["outcome"] for e in reconciled} == {outcome.value}


@pytest.mark.asyncio
async def test_without_a_reconciler_ambiguous_ends_unknown(write_plan, doubles) -> None:
    plan = write_plan(jobs=[1], days=7)
    clock = FakeClock()
    client = doubles.Client(clock, lambda p, n: doubles.lost())
    journal = MemoryJournal(clock=clock)
    result = await run_plan(plan, client=client, journal=journal, clock=clock)
    (record,) = journal.records()
    assert record.status is ChunkStatus.UNKNOWN
    assert record.reason is not None
    assert "no reconciler" in record.reason
    assert len(client.calls) == 1
    assert (result.counts.unknown, result.exit_code) == (1, 1)


@pytest.mark.asyncio
async def test_resume_skips_settled_and_reconciles_doubtful(write_plan, doubles) -> None:
    plan = write_plan(jobs=[1, 2, 3, 4], days=7)
    clock = FakeClock()
    journal = MemoryJournal(clock=clock)
    journal.sync(plan.chunks())
    keys = {c.job_id: c.key for c in plan.chunks()}
    await journal.mark_in_flight(keys[1], clock.wall())
    journal.record_outcome(keys[1], ChunkStatus.SUCCEEDED, request_id="R1")
    await journal.mark_in_flight(keys[2], clock.wall())
    journal.record_outcome(keys[2], ChunkStatus.FAILED, code=500, message="no")
    await journal.mark_in_flight(keys[3], clock.wall())  # died in flight
    client = doubles.Client(clock)
    reconciler = doubles.Reconciler(clock, lambda record: ReconcileOutcome.FOUND)
    result = await run_plan(
        plan, client=client, journal=journal, clock=clock, reconciler=reconciler
    )
    assert [p.job_id for _, p in client.calls] == [4]
    assert [r.chunk.job_id for _, r in reconciler.asked] == [3]
    assert statuses(journal)[keys[3]] is ChunkStatus.SUCCEEDED
    assert (result.counts.succeeded, result.counts.failed, result.exit_code) == (3, 1, 1)

    again = await run_plan(
        plan,
        client=client,
        journal=journal,
        clock=clock,
        reconciler=reconciler,
        retry_failed=True,
    )
    assert [p.job_id for _, p in client.calls] == [4, 2]
    assert again.exit_code == 0
    assert journal.get(keys[2]).attempts == 2  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_graceful_stop_lets_calls_in_flight_finish(write_plan, doubles) -> None:
    plan = write_plan(jobs=list(range(1, 11)), days=28, execution={"concurrency": 3})
    clock = FakeClock()
    stop = anyio.Event()

    def script(params: Any, n: int) -> Any:
        if len(client.calls) == 5:
            stop.set()
        return doubles.ok(n)

    client = doubles.Client(clock, script, latency=1.0)
    journal = MemoryJournal(clock=clock)
    with capture_logs() as logs:
        result = await run_plan(plan, client=client, journal=journal, clock=clock, stop=stop)
    assert result.stopped
    assert result.exit_code == 130
    sent = len(client.calls)
    assert 5 <= sent <= 5 + 3
    counts = result.counts
    assert counts.succeeded == sent  # every call in flight finished and was recorded
    assert counts.pending == 40 - sent
    assert counts.unknown == 0
    assert not [r for r in journal.records() if r.status is ChunkStatus.IN_FLIGHT]
    assert "rerun.stop.requested" in [e["event"] for e in logs]


@pytest.mark.asyncio
async def test_graceful_stop_cuts_a_long_backoff_short(write_plan, doubles) -> None:
    plan = write_plan(jobs=[1], days=7)
    clock = FakeClock()
    stop = anyio.Event()
    client = doubles.Client(clock, lambda p, n: doubles.unavailable())
    journal = MemoryJournal(clock=clock)
    async with anyio.create_task_group() as tg:

        async def stopper() -> None:
            await clock.sleep(0.5)
            stop.set()

        tg.start_soon(stopper)
        result = await run_plan(
            plan,
            client=client,
            journal=journal,
            clock=clock,
            stop=stop,
            backoff=Backoff(base=3600.0, cap=3600.0),
            rng=random.Random(3),
        )
    assert clock.now() < 10.0
    assert len(client.calls) == 1
    (record,) = journal.records()
    assert record.status is ChunkStatus.PENDING  # certainly not applied; resumes later
    assert result.exit_code == 130


@pytest.mark.asyncio
async def test_hard_cancel_leaves_a_consistent_journal(write_plan, doubles) -> None:
    plan = write_plan(jobs=[1, 2, 3], days=14)
    clock = FakeClock()
    client = doubles.Client(clock, hang=True)
    journal = MemoryJournal(clock=clock)
    with anyio.move_on_after(0.2):  # real time: the calls never answer
        await run_plan(plan, client=client, journal=journal, clock=clock)
    in_flight = [r for r in journal.records() if r.status is ChunkStatus.IN_FLIGHT]
    assert len(in_flight) == len(client.calls) > 0
    reconciler = doubles.Reconciler(clock, lambda record: ReconcileOutcome.FOUND)
    client.hang = False
    result = await run_plan(
        plan, client=client, journal=journal, clock=clock, reconciler=reconciler
    )
    assert result.exit_code == 0
    assert len(reconciler.asked) == len(in_flight)
    assert max(client.per_chunk.values()) == 1  # nothing sent twice


@pytest.mark.asyncio
async def test_runs_sharing_an_account_share_one_limiter(write_plan, doubles) -> None:
    first = write_plan(name="a", jobs=[1, 2], days=28, execution={"rate": "5/s"})
    second = write_plan(name="b", jobs=[3, 4], days=28, execution={"rate": "5/s"})
    clock = FakeClock()
    client = doubles.Client(clock, latency=0.01)
    results = []

    async def run(plan: Any) -> None:
        journal = MemoryJournal(clock=clock)
        results.append(
            await run_plan(plan, client=client, journal=journal, clock=clock, account="AK1")
        )

    async with anyio.create_task_group() as tg:
        tg.start_soon(run, first)
        tg.start_soon(run, second)
    assert [r.exit_code for r in results] == [0, 0]
    times = sorted(t for t, _ in client.calls)
    assert len(times) == 16
    assert all(b - a >= 0.2 - 1e-9 for a, b in itertools.pairwise(times))


@pytest.mark.asyncio
async def test_events_reach_the_callback_and_the_async_iterator(write_plan, doubles) -> None:
    plan = write_plan(jobs=[1, 2], days=14)
    clock = FakeClock()
    seen: list[RunEvent] = []
    await run_plan(
        plan,
        client=doubles.Client(clock),
        journal=MemoryJournal(clock=clock),
        clock=clock,
        on_event=seen.append,
    )
    assert isinstance(seen[0], RunStarted)
    assert isinstance(seen[-1], RunFinished)
    assert sum(isinstance(e, AttemptFinished) for e in seen) == 4

    iterated: list[RunEvent] = []
    async with open_run(
        plan, client=doubles.Client(clock), journal=MemoryJournal(clock=clock), clock=clock
    ) as events:
        async for event in events:
            iterated.append(event)
    assert [type(e) for e in iterated] == [type(e) for e in seen]
    last = iterated[-1]
    assert isinstance(last, RunFinished)
    assert last.result.exit_code == 0
    with pytest.raises(TypeError, match="on_event"):
        async with open_run(plan, on_event=print):
            pass


@pytest.mark.asyncio
async def test_a_job_in_two_targets_still_has_one_call_in_flight(write_plan, doubles) -> None:
    window = {"start": "2024-01-01", "end": "2024-01-28"}
    later = {"start": "2024-03-01", "end": "2024-03-28"}
    plan = write_plan(
        targets=[
            {"jobs": [1, 2], "windows": [window]},
            {"jobs": [1], "windows": [later], "data_time": "11:00:00"},
        ],
        execution={"concurrency": 4},
    )
    clock = FakeClock()
    client = doubles.Client(clock, latency=1.0)
    result = await run_plan(plan, client=client, journal=MemoryJournal(clock=clock), clock=clock)
    assert result.exit_code == 0
    assert len(client.calls) == 12
    assert client.job_peak == 1
    assert client.peak == 2  # job 1 (either stream) and job 2


@pytest.mark.asyncio
async def test_per_job_concurrency_lanes(write_plan, doubles) -> None:
    plan = write_plan(jobs=[1], days=56, execution={"per_job_concurrency": 2, "concurrency": 4})
    clock = FakeClock()
    client = doubles.Client(clock, latency=1.0)
    await run_plan(plan, client=client, journal=MemoryJournal(clock=clock), clock=clock)
    assert len(client.calls) == 8
    assert client.job_peak == 2
    starts = [p.start_date for _, p in client.calls]
    assert starts == sorted(starts)  # lanes still start the job's chunks in date order


@pytest.mark.asyncio
async def test_a_business_level_too_fast_answer_slows_the_limiter_down(write_plan, doubles) -> None:
    """Issue 9's bug: HTTP 200 with Code 41090004 was retried but counted as a success,
    so the adaptive limiter could raise its rate exactly when it should drop."""
    plan = write_plan(jobs=[1], days=14, execution={"rate": "10/s"})
    clock = FakeClock()

    def script(params: Any, n: int) -> Any:
        return doubles.too_fast() if n == 1 else doubles.ok(n)

    client = doubles.Client(clock, script)
    journal = MemoryJournal(clock=clock)
    with capture_logs() as logs:
        result = await run_plan(plan, client=client, journal=journal, clock=clock)
    assert result.exit_code == 0
    assert result.throttled == 2
    throttles = [e for e in logs if e["event"] == "rerun.throttle"]
    assert [e["code"] for e in throttles] == [41090004, 41090004]
    assert throttles[0]["rate"] < throttles[0]["rate_before"] == 10.0


@pytest.mark.asyncio
async def test_a_refusal_of_a_whole_location_stops_that_location_only(write_plan, doubles) -> None:
    """A misspelled group: a few chunks refused, the rest kept pending, others go on."""
    window = [{"start": "2024-01-01", "end": "2024-01-28"}]
    plan = write_plan(
        targets=[
            {"group": "g-typo", "jobs": ["1-10"], "windows": window},
            {"jobs": [20, 21], "windows": window},
        ],
        execution={"concurrency": 1},
    )
    clock = FakeClock()

    def script(params: Any, n: int) -> Any:
        return doubles.group_unknown() if params.group_id == "g-typo" else doubles.ok(n)

    client = doubles.Client(clock, script)
    journal = MemoryJournal(clock=clock)
    with capture_logs() as logs:
        result = await run_plan(plan, client=client, journal=journal, clock=clock)
    sent_to_typo = [p for _, p in client.calls if p.group_id == "g-typo"]
    assert len(sent_to_typo) == 3  # of 40 chunks
    by_group: dict[str, set[ChunkStatus]] = defaultdict(set)
    for record in journal.records():
        by_group[record.chunk.group_id].add(record.status)
    # held-back chunks were never sent, so the journal has no record of them: pending
    assert by_group == {"g-typo": {ChunkStatus.FAILED}, "g1": {ChunkStatus.SUCCEEDED}}
    assert (result.counts.failed, result.counts.pending, result.counts.succeeded) == (3, 37, 8)
    assert result.exit_code == 1
    (note,) = result.notes
    assert "group g-typo" in note
    assert "37 more chunk(s) not sent" in note
    stopped = [e for e in logs if e["event"] == "rerun.location.stopped"]
    assert [(e["group_id"], e["refused"]) for e in stopped] == [("g-typo", 3)]


@pytest.mark.asyncio
async def test_retry_failed_reconciles_a_failure_that_may_have_followed_an_applied_call(
    write_plan, doubles
) -> None:
    """A proxy's HTML 403 (no API code) may follow a forwarded, applied call: --retry-failed
    checks first. A business refusal (an integer code) proves nothing applied: resent."""
    plan = write_plan(jobs=[1, 2], days=7)
    clock = FakeClock()
    journal = MemoryJournal(clock=clock)
    journal.sync(plan.chunks())
    keys = {c.job_id: c.key for c in plan.chunks()}
    await journal.mark_in_flight(keys[1], clock.wall())
    journal.record_outcome(keys[1], ChunkStatus.FAILED, code=None, reason="HTTP 403 with HTML")
    await journal.mark_in_flight(keys[2], clock.wall())
    journal.record_outcome(keys[2], ChunkStatus.FAILED, code=500, message="jobId=2 is not existed")
    client = doubles.Client(clock)
    reconciler = doubles.Reconciler(clock, lambda record: ReconcileOutcome.FOUND)
    result = await run_plan(
        plan, client=client, journal=journal, clock=clock, reconciler=reconciler, retry_failed=True
    )
    assert [r.chunk.job_id for _, r in reconciler.asked] == [1]
    assert [p.job_id for _, p in client.calls] == [2]  # job 1 was found applied: not resent
    assert result.exit_code == 0


@pytest.mark.asyncio
async def test_reconciled_counts_only_the_chunks_it_settled(write_plan, doubles) -> None:
    """Issue 11: "3 reconciled" was printed when all three stayed unknown."""
    plan = write_plan(jobs=[1, 2, 3], days=7)
    clock = FakeClock()
    client = doubles.Client(clock, lambda p, n: doubles.internal_error())
    reconciler = doubles.Reconciler(
        clock,
        lambda r: ReconcileOutcome.FOUND if r.chunk.job_id == 1 else ReconcileOutcome.UNDECIDABLE,
    )
    result = await run_plan(
        plan, client=client, journal=MemoryJournal(clock=clock), clock=clock, reconciler=reconciler
    )
    assert (result.reconciled, result.undecided) == (1, 2)
    assert (result.counts.succeeded, result.counts.unknown) == (1, 2)


@pytest.mark.asyncio
async def test_a_throttled_then_accepted_chunk_logs_exactly_these_events(
    write_plan, doubles
) -> None:
    """Whole events, not chosen keys (as stamina's test_structlog.py): a key added, renamed
    or leaking (a secret, an object repr) shows up here."""
    plan = write_plan(jobs=[1], days=7, execution={"rate": "10/s"})
    (chunk,) = plan.chunks()
    clock = FakeClock()
    client = doubles.Client(clock, lambda p, n: doubles.throttled() if n == 1 else doubles.ok(n))
    with capture_logs() as logs:
        await run_plan(plan, client=client, journal=MemoryJournal(clock=clock), clock=clock)
    chunk_events = [
        e for e in logs if e["event"].startswith(("rerun.attempt", "rerun.chunk", "rerun.throttle"))
    ]
    cut = chunk_events[0].pop("rate")  # how far the adaptive limiter cuts is its business
    assert 0 < cut < 10.0
    assert chunk_events[0].pop("rate_text") == format_rate(cut)
    where = {
        "run_id": chunk_events[0]["run_id"],
        "plan": "t",
        "region": "cn-hangzhou",
        "namespace": "ns-1",
        "group_id": "g1",
        "first_day": "2024-01-01",
        "last_day": "2024-01-07",
        "days": 7,
    }
    chunk_events = [
        {k: v for k, v in e.items() if k not in where or e[k] != where[k]} for e in chunk_events
    ]
    assert all(e.get("run_id") is None for e in chunk_events)  # every event named the run
    attempt = {"chunk": chunk.key, "job_id": 1, "log_level": "info"}
    assert chunk_events == [
        {
            "event": "rerun.throttle",
            "log_level": "warning",
            "chunk": chunk.key,
            "code": "Throttling.User",
            "retry_after_ms": None,
            "rate_before": 10.0,
            "rate_before_text": "10/s",
        },
        {
            **attempt,
            "event": "rerun.attempt",
            "attempt": 1,
            "request_id": "REQ-THR",
            "http_status": 400,
            "code": "Throttling.User",
            "outcome": "retrying",
            "elapsed_ms": 5.0,
            "reason": "throttled by the API quota (Throttling.User, HTTP 400)",
        },
        {
            **attempt,
            "event": "rerun.attempt",
            "attempt": 2,
            "request_id": "REQ-OK-2",
            "http_status": 200,
            "code": None,
            "outcome": "succeeded",
            "elapsed_ms": 12.0,
            "reason": "accepted",
        },
        {
            "event": "rerun.chunk.succeeded",
            "log_level": "info",
            "chunk": chunk.key,
            "job_id": 1,
            "status": "succeeded",
            "attempts": 2,
            "request_id": "REQ-OK-2",
            "code": None,
            "message": None,
            "reason": None,
            "instance_ids": (),
        },
    ]
