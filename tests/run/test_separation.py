"""A chunk is not sent within the clock skew of another record's answer on the same days,
nor while another record of them is in doubt (`run/_separation.py`).

Why: reconciliation's evidence window reaches back the clock skew (5 minutes) before an
attempt began. A deliberate rerun (`--rerun-succeeded`) sent within it of the first rerun
would find the first's instances there: a chunk killed before its call left was settled
succeeded, and its days silently not rerun (the e2e form: tests/e2e/test_ledger.py)."""

from __future__ import annotations

import dataclasses
import io
from collections import Counter
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator.journal import ChunkRecord, ChunkStatus, MemoryJournal, ReconcileOutcome
from rerun_orchestrator.journal._lease import JobLeases
from rerun_orchestrator.journal._model import JobIdentity
from rerun_orchestrator.journal._view import make_chunk
from rerun_orchestrator.plan._model import Chunk
from rerun_orchestrator.plan._plan import Target
from rerun_orchestrator.run import RunPolicy, RunWiring, run_plan
from rerun_orchestrator.run._capacity import InstanceGate
from rerun_orchestrator.run._parked import ParkedJobs
from rerun_orchestrator.run._progress import write_summary
from rerun_orchestrator.run._result import RunStats
from rerun_orchestrator.run._separation import hold_among, hold_of, may_hold, separation_for
from rerun_orchestrator.run._streams import JobKey
from rerun_orchestrator.schedulerx._wire import AttemptResult, RerunJobParams
from rerun_orchestrator.testing import ScriptedClient

D0 = date(2024, 1, 1)
SKEW = 300.0
SEP = separation_for(SKEW, 10.0)  # 612 s: the skew either way, the settle time, 2 s


@pytest.fixture
def chunk():  # type: ignore[no-untyped-def]
    """Job `job_id`'s chunk of `days` days from `first` (as the plan cuts them)."""

    def make(job_id: int, first: date, days: int) -> Chunk:
        target = Target("cn-hangzhou", "ns", None, "g", "00:00:00", 7, ((job_id, job_id),), ())
        return make_chunk(target, job_id, first, first + timedelta(days=days - 1), ZoneInfo("UTC"))

    return make


async def _journal(chunk, clock, status: ChunkStatus, code: str | int | None = None):  # type: ignore[no-untyped-def]
    """A journal whose first rerun of D0..D0+1 (job 1) is `status`, and the deliberate
    rerun's record of the same days, not sent yet."""
    journal = MemoryJournal(clock=clock)
    first = chunk(1, D0, 2)
    journal.propose(first, plan="p", timezone="UTC")
    if status is not ChunkStatus.PENDING:
        await journal.mark_in_flight(first.key, clock.wall())
        if status is not ChunkStatus.IN_FLIGHT:
            journal.record_outcome(first.key, status, request_id="R0", code=code)
    again = dataclasses.replace(first, key=f"{first.key}~g1")
    return journal, journal.propose(again, plan="p", timezone="UTC", generation=1)


@pytest.mark.asyncio
async def test_a_rerun_waits_the_separation_after_the_first_was_answered(chunk) -> None:
    clock = FakeClock()
    journal, record = await _journal(chunk, clock, ChunkStatus.SUCCEEDED)
    answered = clock.wall()
    clock.advance(10)
    hold = hold_of(journal, record, separation=SEP, now=clock.wall())
    assert hold is not None
    assert hold.until == answered + SEP
    assert hold.by == chunk(1, D0, 2).key
    assert "0:00:10 ago" in hold.reason
    clock.advance(SEP - 10)
    assert hold_of(journal, record, separation=SEP, now=clock.wall()) is None


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [ChunkStatus.IN_FLIGHT, ChunkStatus.UNKNOWN])
async def test_a_record_in_doubt_holds_the_days_back(chunk, status) -> None:
    clock = FakeClock()
    journal, record = await _journal(chunk, clock, status)
    clock.advance(SKEW * 10)  # however long ago: its attempt may still be judged
    hold = hold_of(journal, record, separation=SEP, now=clock.wall())
    assert hold is not None
    assert hold.until is None
    assert str(status) in hold.reason


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "code"), [(ChunkStatus.PENDING, None), (ChunkStatus.FAILED, 41090002)]
)
async def test_a_record_that_did_not_apply_holds_nothing(chunk, status, code) -> None:
    """Never sent, or refused by the server (no permission): no instance of it can exist."""
    clock = FakeClock()
    journal, record = await _journal(chunk, clock, status, code)
    assert hold_of(journal, record, separation=SEP, now=clock.wall()) is None


@pytest.mark.asyncio
@pytest.mark.parametrize("code", [None, "InternalError"])
async def test_a_failure_that_may_have_applied_holds_the_days_back(chunk, code) -> None:
    """Failed without the server's refusal: its attempt may have applied, and
    --retry-failed reconciles it, by a window with no end, before resending it. Any other
    record's instances on its days, however much later, would be taken for its own."""
    clock = FakeClock()
    journal, record = await _journal(chunk, clock, ChunkStatus.FAILED, code)
    clock.advance(SKEW * 10)  # however long ago
    hold = hold_of(journal, record, separation=SEP, now=clock.wall())
    assert hold is not None
    assert hold.until is None
    assert hold.by == chunk(1, D0, 2).key
    assert "--retry-failed" in hold.reason


@pytest.mark.asyncio
@pytest.mark.parametrize("outcome", [ReconcileOutcome.ABSENT, None])
async def test_retry_failed_reconciles_a_failure_that_may_have_applied_before_the_rerun(
    write_plan, doubles, outcome
) -> None:
    """Generation 0 failed with a server error (it may have applied); a deliberate rerun
    with --retry-failed reconciles it before it sends anything of its days: shown absent,
    the days are sent; undecidable (no reconciler), they are held back, none sent."""
    plan = write_plan(jobs=[1], days=7)
    clock = FakeClock()
    journal = MemoryJournal(clock=clock)
    failed = make_chunk(plan.targets[0], 1, D0, D0 + timedelta(days=6), ZoneInfo(plan.timezone))
    journal.propose(failed, plan=plan.name, timezone=plan.timezone)
    await journal.mark_in_flight(failed.key, clock.wall())
    journal.record_outcome(failed.key, ChunkStatus.FAILED, code="InternalError")
    clock.advance(3600)
    client = doubles.Client(clock, latency=0.5)
    reconciler = None if outcome is None else doubles.Reconciler(clock, lambda r: outcome)
    generation = journal.start_generation(plan.name)
    with capture_logs() as logs:
        result = await run_plan(
            plan,
            RunWiring(client=client, journal=journal, clock=clock, reconciler=reconciler),
            RunPolicy(generation=generation, separation=SEP, retry_failed=True),
        )
    held = [e for e in logs if e["event"] == "rerun.chunk.held"]
    if outcome is None:
        assert client.calls == []
        assert [e["by"] for e in held] == [failed.key]
        assert journal.get(failed.key).status is ChunkStatus.UNKNOWN  # type: ignore[union-attr]
        return
    [(asked_at, asked)] = reconciler.asked  # type: ignore[union-attr]
    assert asked.key == failed.key
    [(sent_at, params)] = client.calls
    assert sent_at > asked_at
    assert (params.end_date - params.start_date) // 86_400_000 + 1 == 7
    assert not held
    assert result.exit_code == 0


@pytest.mark.asyncio
async def test_an_answer_from_the_future_is_clock_trouble_not_a_long_sleep(chunk) -> None:
    """A replica whose clock is an hour ahead recorded the answer: hold, do not sleep."""
    clock = FakeClock()
    journal, record = await _journal(chunk, clock, ChunkStatus.SUCCEEDED)
    now = clock.wall() - 3600
    hold = hold_of(journal, record, separation=SEP, now=now)
    assert hold is not None
    assert hold.until is None
    assert "clock is wrong" in hold.reason


@pytest.mark.asyncio
@pytest.mark.parametrize("ahead", [0.001, 5.0, SEP])
async def test_an_answer_a_little_ahead_is_waited_out_not_held(chunk, ahead: float) -> None:
    """Replicas' clocks differ by milliseconds to seconds: an answer recorded that little
    ahead of ours is waited out (the separation from it), not held for the whole run."""
    clock = FakeClock()
    journal, record = await _journal(chunk, clock, ChunkStatus.SUCCEEDED)
    now = clock.wall() - ahead
    hold = hold_of(journal, record, separation=SEP, now=now)
    assert hold is not None
    assert hold.until == pytest.approx(clock.wall() + SEP)


@pytest.mark.asyncio
async def test_retry_failed_reconciles_a_doubtful_failure_behind_another_record(
    write_plan, doubles
) -> None:
    """Days 1..7 refused (plan p's chunk) and, behind it, days 3..5 failed without a refusal
    (another chunking's record: it may have applied). The earliest record names the days,
    yet --retry-failed reconciles the one behind it before sending: never held run after
    run by a record nothing reconciles."""
    plan = write_plan(jobs=[1], days=7)
    clock = FakeClock()
    journal = MemoryJournal(clock=clock)
    zone = ZoneInfo(plan.timezone)
    target = plan.targets[0]
    refused = make_chunk(target, 1, D0, D0 + timedelta(days=6), zone)
    behind = make_chunk(target, 1, D0 + timedelta(days=2), D0 + timedelta(days=4), zone)
    for c, code in ((refused, 987654), (behind, "InternalError")):
        journal.propose(c, plan=plan.name, timezone=plan.timezone)
        await journal.mark_in_flight(c.key, clock.wall())
        journal.record_outcome(c.key, ChunkStatus.FAILED, code=code)
    clock.advance(3600)
    client = doubles.Client(clock, latency=0.5)
    reconciler = doubles.Reconciler(clock, lambda r: ReconcileOutcome.ABSENT)
    with capture_logs() as logs:
        await run_plan(
            plan,
            RunWiring(client=client, journal=journal, clock=clock, reconciler=reconciler),
            RunPolicy(separation=SEP, retry_failed=True),
        )
    assert [r.key for _, r in reconciler.asked] == [behind.key]  # type: ignore[union-attr]
    assert not [e for e in logs if e["event"] == "rerun.chunk.held"]
    sent = sorted((p.start_date, p.end_date) for _, p in client.calls)
    assert sent == [(refused.start_date, refused.end_date)]


async def _first_generation_sent(write_plan, doubles):  # type: ignore[no-untyped-def]
    """Jobs 1 and 2 over 6 days, all sent and answered (0.5 s each) on a fake clock: what
    a deliberate rerun then starts from."""
    plan = write_plan(jobs=[1, 2], days=6)
    clock = FakeClock()
    client = doubles.Client(clock, latency=0.5)
    journal = MemoryJournal(clock=clock)
    assert (await run_plan(plan, client=client, journal=journal, clock=clock)).exit_code == 0
    return plan, clock, client, journal


@pytest.mark.asyncio
async def test_the_executor_sends_a_deliberate_rerun_only_after_the_separation(
    write_plan, doubles
) -> None:
    """Generation 1 right after generation 0: every call of the second waits until the
    separation has passed since the first's answers, on the run's clock."""
    plan, clock, client, journal = await _first_generation_sent(write_plan, doubles)
    first = len(client.calls)
    generation = journal.start_generation(plan.name)
    with capture_logs() as logs:
        result = await run_plan(
            plan,
            client=client,
            journal=journal,
            clock=clock,
            policy=RunPolicy(generation=generation, separation=SEP),
        )
    assert result.exit_code == 0
    assert len(client.calls) == 2 * first  # every day once more
    sent = {(p.job_id, p.start_date): at for at, p in client.calls[:first]}
    for at, params in client.calls[first:]:  # each after its twin's answer (0.5 s) + separation
        assert at >= sent[(params.job_id, params.start_date)] + 0.5 + SEP - 1e-6
    separated = [e for e in logs if e["event"] == "rerun.chunk.separated"]
    assert len(separated) == len(client.calls) - first  # each said why it waited


class _Leases(JobLeases):
    """A replica's leases without the database: claims and releases written down."""

    def __init__(self, log: list[tuple[str, int]]) -> None:  # no connection: nothing to ask
        self.log = log
        self.seconds = 30.0
        self.taken_over = 0

    def claim(self, job: JobIdentity) -> bool:
        self.log.append(("claim", job.job_id))
        return True

    def release(self, job: JobIdentity) -> None:
        self.log.append(("release", job.job_id))


@pytest.mark.asyncio
async def test_a_job_is_parked_only_once_its_lease_is_released(
    write_plan, doubles, monkeypatch
) -> None:
    """On a shared journal a parked job is let go first: taken up again while its release
    was under way, its new claim's lease would be the one the release deletes."""
    plan, clock, client, journal = await _first_generation_sent(write_plan, doubles)
    log: list[tuple[str, int]] = []
    journal.leases = _Leases(log)  # type: ignore[attr-defined]
    park = ParkedJobs.park

    def parked(self: ParkedJobs, job, until: float) -> None:  # type: ignore[no-untyped-def]
        log.append(("park", job.job_id))
        park(self, job, until)

    monkeypatch.setattr(ParkedJobs, "park", parked)
    generation = journal.start_generation(plan.name)
    result = await run_plan(
        plan,
        client=client,
        journal=journal,
        clock=clock,
        policy=RunPolicy(generation=generation, separation=SEP),
    )
    assert result.exit_code == 0
    parks = [n for n, entry in enumerate(log) if entry[0] == "park"]
    assert parks, log  # the deliberate rerun waited out the separation
    for n in parks:
        job = log[n][1]
        before = [entry for entry in log[:n] if entry[1] == job]
        assert before[-1] == ("release", job), log


@pytest.mark.asyncio
async def test_a_stop_cuts_the_separation_wait_short_and_nothing_is_sent(
    write_plan, doubles
) -> None:
    """Ctrl-C while a deliberate rerun waits out the separation: the run ends at once, its
    days pending for the next run, none sent."""
    plan, clock, client, journal = await _first_generation_sent(write_plan, doubles)
    first, began = len(client.calls), clock.now()
    generation = journal.start_generation(plan.name)
    stop = anyio.Event()

    async def press_ctrl_c() -> None:
        await clock.sleep(100)  # well inside the 612 s wait
        stop.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(press_ctrl_c)
        result = await run_plan(
            plan,
            client=client,
            journal=journal,
            clock=clock,
            stop=stop,
            policy=RunPolicy(generation=generation, separation=SEP),
        )
    assert len(client.calls) == first  # nothing of the second generation went out
    assert clock.now() - began < SEP  # it did not wait the separation out
    assert result.counts.succeeded == 0
    assert result.counts.pending == result.counts.total > 0


@dataclasses.dataclass
class _EndingAtOnce(ScriptedClient):
    """Its rerun instances end as soon as the call is answered: their days are given back
    to the capacity gate (the watcher's part, which this executor-level test has not)."""

    gate: InstanceGate | None = None

    async def rerun_job(self, params: RerunJobParams) -> AttemptResult:
        result = await super().rerun_job(params)
        if self.gate is not None:
            job = JobKey(params.region, params.namespace, params.group_id, params.job_id)
            days = (params.end_date - params.start_date) // 86_400_000 + 1
            self.gate.release(job, days)
        return result


@pytest.mark.asyncio
@pytest.mark.parametrize(("concurrency", "group_cap"), [(1, None), (2, 1)])
async def test_a_job_waiting_out_the_separation_holds_no_slot_another_job_needs(
    write_plan, concurrency, group_cap
) -> None:
    """Job 1 was rerun a moment ago, job 2 never: the deliberate rerun of both sends job 2
    at once while job 1 waits out its separation, with one worker (concurrency 1) or one
    instance slot in the group, because the wait comes before admission."""
    execution = {"concurrency": concurrency}
    clock = FakeClock()
    gate = None if group_cap is None else InstanceGate(lambda job: 10, group_cap=group_cap)
    client = _EndingAtOnce(clock, latency=0.5, gate=gate)
    journal = MemoryJournal(clock=clock)
    first = write_plan(jobs=[1], days=7, execution=execution)
    assert (
        await run_plan(first, RunWiring(client=client, journal=journal, clock=clock))
    ).exit_code == 0
    ((sent_at, _),) = client.calls  # job 1's one chunk, answered 0.5 s later
    before, began = len(client.calls), clock.now()
    both = write_plan(jobs=[1, 2], days=7, execution=execution)  # job 1 first in plan order
    generation = journal.start_generation(both.name)
    live = RunStats()
    wiring = RunWiring(client=client, journal=journal, clock=clock, capacity=gate, stats=live)
    result = await run_plan(both, wiring, RunPolicy(generation=generation, separation=SEP))
    assert result.exit_code == 0
    if gate is None:  # (a capacity gate's cuts are not in the live counts: not ours here)
        assert live.counts() == result.counts  # a job taken up again is not counted twice
    rerun = client.calls[before:]
    days = Counter(
        (p.job_id, day) for _, p in rerun for day in range(p.start_date, p.end_date + 1, 86_400_000)
    )
    assert set(days.values()) == {1}  # every day of both jobs, once
    assert len(days) == 14
    job_2 = [at for at, p in rerun if p.job_id == 2]
    job_1 = [at for at, p in rerun if p.job_id == 1]
    assert max(job_2) < began + 60  # not behind job 1's wait of 612 s
    assert min(job_1) >= sent_at + 0.5 + SEP - 1e-6  # and job 1 did wait it out


@dataclasses.dataclass
class _AnotherReplica(ScriptedClient):
    """While the first call is on the wire, "another replica" (generation 0) marks the
    record of `days` in flight on the shared journal, and records it answered if asked:
    after the deliberate rerun's dispatcher has read the job."""

    journal: MemoryJournal | None = None
    days: Chunk | None = None
    answered: bool = False

    async def rerun_job(self, params: RerunJobParams) -> AttemptResult:
        if len(self.calls) == 0 and self.journal is not None and self.days is not None:
            self.journal.propose(self.days, plan="other", timezone="UTC")
            await self.journal.mark_in_flight(self.days.key, self.clock.wall())
            if self.answered:
                self.journal.record_outcome(self.days.key, ChunkStatus.SUCCEEDED)
        return await super().rerun_job(params)


@pytest.mark.asyncio
@pytest.mark.parametrize("answered", [False, True])
async def test_a_record_written_after_the_job_was_read_is_caught_at_the_mark(
    write_plan, answered
) -> None:
    """The dispatcher judges a chunk by the records its job was read with; one written
    since, by another replica, is caught by the journal's mark in flight (the same step
    as the ledger's check): in doubt, the chunk is held back (not sent, pending); just
    answered, the job waits out the separation and sends it then."""
    plan = write_plan(jobs=[1], days=14)  # two chunks of job 1, sent one after the other
    clock = FakeClock()
    journal = MemoryJournal(clock=clock)
    zone = ZoneInfo(plan.timezone)
    target = plan.targets[0]
    second = make_chunk(target, 1, D0 + timedelta(days=7), D0 + timedelta(days=13), zone)
    client = _AnotherReplica(clock, latency=0.5, journal=journal, days=second, answered=answered)
    generation = journal.start_generation(plan.name)
    with capture_logs() as logs:
        result = await run_plan(
            plan,
            RunWiring(client=client, journal=journal, clock=clock),
            RunPolicy(generation=generation, separation=SEP),
        )
    sent = [p.start_date for _, p in client.calls]
    held = [e for e in logs if e["event"] == "rerun.chunk.held"]
    if not answered:
        assert sent == [client.calls[0][1].start_date]  # the first chunk only
        assert [e["chunk"] for e in held] == [f"{second.key}~g{generation}"]
        assert held[0]["by"] == second.key
        assert result.counts.pending == 1
    else:
        assert len(sent) == 2
        assert not held
        assert client.calls[1][0] >= client.calls[0][0] + SEP - 1e-6
        assert result.exit_code == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("rich", [False, True])
async def test_the_summary_names_the_chunks_held_back_and_how_to_settle_them(
    write_plan, doubles, rich
) -> None:
    """Generation 0 of job 1's days is in flight (a run killed mid-call): the deliberate
    rerun holds that chunk back, and its result and summary say so, with the way out,
    rather than leaving a bare "pending"."""
    plan = write_plan(jobs=[1, 2], days=7)
    clock = FakeClock()
    journal = MemoryJournal(clock=clock)
    zone = ZoneInfo(plan.timezone)
    doubt = make_chunk(plan.targets[0], 1, D0, D0 + timedelta(days=6), zone)
    journal.propose(doubt, plan=plan.name, timezone=plan.timezone)
    await journal.mark_in_flight(doubt.key, clock.wall())
    client = doubles.Client(clock, latency=0.5)
    generation = journal.start_generation(plan.name)
    result = await run_plan(
        plan,
        RunWiring(client=client, journal=journal, clock=clock),
        RunPolicy(generation=generation, separation=SEP),
    )
    assert [p.job_id for _, p in client.calls] == [2]  # job 2 went; job 1 held back
    held = f"{doubt.key}~g{generation}"
    assert (result.held, result.held_by) == (1, ((held, doubt.key),))
    assert result.to_json()["held_by"] == [{"chunk": held, "by": doubt.key}]
    assert result.exit_code == 1
    out = io.StringIO()
    write_summary(result, [], out, rich=rich)
    text = " ".join(out.getvalue().split())  # the rich console wraps lines
    assert "1 chunk(s) held back, not sent: another record of their days is in doubt" in text
    assert "rerun-orchestrator settle" in text
    assert f"{held} (by {doubt.key})" in text
    assert "and the held ones once the records holding them are settled" in text


@dataclasses.dataclass
class _AnswersMeanwhile(ScriptedClient):
    """While the first call is on the wire, another replica's record in flight (`other`)
    is answered: after the deliberate rerun's dispatcher has read the job."""

    journal: MemoryJournal | None = None
    other: str | None = None

    async def rerun_job(self, params: RerunJobParams) -> AttemptResult:
        if len(self.calls) == 0 and self.journal is not None and self.other is not None:
            self.journal.record_outcome(self.other, ChunkStatus.SUCCEEDED)
        return await super().rerun_job(params)


@pytest.mark.asyncio
async def test_a_record_in_doubt_in_the_view_is_read_again_before_the_chunk_is_held(
    write_plan,
) -> None:
    """The job was read while another replica's record of its second chunk's days was in
    flight; it was answered meanwhile. The chunk is not held back for the whole run on
    the strength of that old read: it waits out the separation and is sent."""
    plan = write_plan(jobs=[1], days=14)
    clock = FakeClock()
    journal = MemoryJournal(clock=clock)
    zone = ZoneInfo(plan.timezone)
    second = make_chunk(plan.targets[0], 1, D0 + timedelta(days=7), D0 + timedelta(days=13), zone)
    journal.propose(second, plan="other", timezone="UTC")
    await journal.mark_in_flight(second.key, clock.wall())
    client = _AnswersMeanwhile(clock, latency=0.5, journal=journal, other=second.key)
    generation = journal.start_generation(plan.name)
    with capture_logs() as logs:
        result = await run_plan(
            plan,
            RunWiring(client=client, journal=journal, clock=clock),
            RunPolicy(generation=generation, separation=SEP),
        )
    assert not [e for e in logs if e["event"] == "rerun.chunk.held"]
    assert len(client.calls) == 2
    assert client.calls[1][0] >= client.calls[0][0] + SEP - 1e-6  # after the other's answer
    assert result.exit_code == 0


_TARGET = Target("cn-hangzhou", "ns", None, "g", "00:00:00", 7, ((1, 1),), ())
_STATUSES = st.sampled_from(list(ChunkStatus))
_CODES = st.sampled_from([None, "InternalError", 41090002, "Throttling.User"])


@st.composite
def _records(draw: st.DrawFn) -> ChunkRecord:
    first = D0 + timedelta(days=draw(st.integers(0, 20)))
    days = draw(st.integers(1, 7))
    chunk = make_chunk(_TARGET, 1, first, first + timedelta(days=days - 1), ZoneInfo("UTC"))
    started = draw(st.none() | st.floats(0, 5000))
    return ChunkRecord(
        chunk,
        draw(_STATUSES),
        code=draw(_CODES),
        attempt_started_at=started,
        updated_at=draw(st.none() | st.floats(0, 5000)),
    )


@given(
    records=st.lists(_records(), max_size=12),
    probe=_records(),
    now=st.floats(0, 5000),
    later=st.floats(0, 2000),
)
def test_the_records_picked_once_per_view_give_every_chunk_the_same_verdict(
    records, probe, now, later
) -> None:
    """`may_hold`, picked once per job view, judges every chunk as all the records would,
    then and later (a record too old to hold a chunk stays so)."""
    picked = may_hold(records, separation=SEP, now=now)
    for at in (now, now + later):
        assert hold_among(picked, probe.key, probe.chunk, separation=SEP, now=at) == (
            hold_among(records, probe.key, probe.chunk, separation=SEP, now=at)
        )
