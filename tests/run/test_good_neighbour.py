"""Good neighbour: caps on active instances (cut to what is free, fair, released later) and
run windows (nothing sent outside them), measured at the simulator on a fake clock.

The end-to-end tests measure at the simulator (`Simulator.peaks`), not in the gate. Until
the watcher lands on main, a test releaser plays its part: it reads the simulator's
instances on the shared fake clock and releases the days whose instances have ended.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import pytest

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator._quartz import QuartzCron
from rerun_orchestrator.journal import MemoryJournal
from rerun_orchestrator.plan import Plan
from rerun_orchestrator.run import RateLimiter, Reconciler, run_plan
from rerun_orchestrator.run._admission import Ticket
from rerun_orchestrator.run._capacity import InstanceGate
from rerun_orchestrator.run._events import RunEvent
from rerun_orchestrator.run._production import Durations, ProductionGate
from rerun_orchestrator.run._result import RunStats
from rerun_orchestrator.run._streams import JobKey
from rerun_orchestrator.run._windows import WindowWaiting, waiting_message
from rerun_orchestrator.schedulerx import Credentials, SchedulerXClient, StaticCredentialsProvider
from rerun_orchestrator.simulator import CredentialSpec, JobSpec, Simulator, SimulatorConfig

A, B, C = (JobKey("cn-hangzhou", "ns-1", "g1", job) for job in (1, 2, 3))
ENDED = {4, 5, 9}  # success, failed, rejected
RERUN = 2


def test_a_chunk_is_cut_to_what_is_free_and_never_grows() -> None:
    gate = InstanceGate(lambda job: 4, group_cap=6)
    first = gate.try_start(Ticket(A, 7))
    assert first == Ticket(A, 4)  # the job's cap
    assert gate.try_start(Ticket(A, 7)) is None  # the job is full
    assert gate.try_start(Ticket(B, 3)) == Ticket(B, 2)  # the group's cap
    assert gate.try_start(Ticket(C, 1)) is None
    gate.release(A, 3)
    assert gate.try_start(Ticket(C, 1)) == Ticket(C, 1)  # never more than asked
    assert gate.active(A) == 1
    assert gate.active_in_group(("cn-hangzhou", "ns-1", "g1")) == 4


@pytest.mark.asyncio
async def test_waiters_share_the_group_and_a_release_from_another_task_wakes_them() -> None:
    gate = InstanceGate(lambda job: 10, group_cap=4)
    assert gate.try_start(Ticket(A, 4)) == Ticket(A, 4)
    granted: dict[int, int] = {}

    async def ask(job: JobKey) -> None:
        granted[job.job_id] = (await gate.start(Ticket(job, 7))).days

    async with anyio.create_task_group() as tg:
        tg.start_soon(ask, B)
        tg.start_soon(ask, C)
        await anyio.wait_all_tasks_blocked()
        assert granted == {}
        gate.release(A, 4)  # the watcher's call, from its own task
    assert granted == {2: 2, 3: 2}  # round-robin: neither long job takes the whole group


@pytest.mark.asyncio
async def test_a_cancelled_waiter_leaves_the_queue_and_holds_nothing() -> None:
    gate = InstanceGate(lambda job: 1)
    assert gate.try_start(Ticket(A, 1)) is not None
    with anyio.move_on_after(0.01):
        await gate.start(Ticket(A, 1))
    gate.release(A, 1)
    assert gate.active(A) == 0
    assert gate.try_start(Ticket(B, 1)) == Ticket(B, 1)


# -- end to end, on the simulator's clock ---------------------------------------------


def _config(over_concurrency: str = "queue", **job: Any) -> SimulatorConfig:
    return SimulatorConfig(
        over_concurrency=over_concurrency,
        credentials=(CredentialSpec("k", "s"),),
        jobs=(JobSpec("cn-hangzhou", "ns-1", "g1", ((1, 3),), run_seconds=600.0, **job),),
        quota={"RerunJob": None, "GetJobInstanceList": None},
        instance_wait_seconds=0.0,
        instance_run_spread=0.0,
        seed=3,
    )


async def _release_ended(
    sim: Simulator, gate: InstanceGate, clock: FakeClock, durations: Durations | None
) -> None:
    """The watcher's part: release each rerun instance once it has ended (and learn how
    long it ran)."""
    seen: set[int] = set()
    while True:
        ended: Counter[int] = Counter()
        for row in sim.instances():
            ended_now = row["trigger_type"] == RERUN and row["status"] in ENDED
            if ended_now and row["instance_id"] not in seen:
                seen.add(row["instance_id"])
                ended[row["job_id"]] += 1
                if durations is not None and row["start_ms"] is not None:
                    key = JobKey("cn-hangzhou", "ns-1", "g1", row["job_id"])
                    durations.record(key, (row["end_ms"] - row["start_ms"]) / 1000)
        for job_id, days in ended.items():
            gate.release(JobKey("cn-hangzhou", "ns-1", "g1", job_id), days)
        await clock.sleep(15.0)


async def _run(
    tmp_path: Path,
    plan: Plan,
    sim_config: SimulatorConfig,
    gate: InstanceGate | None,
    clock: FakeClock,
    durations: Durations | None = None,
    **options: Any,
) -> Simulator:
    """One run on its own simulator; one FakeClock per test (two on a loop would each
    keep the loop from looking idle to the other)."""
    sim = Simulator(sim_config, clock=clock)
    await sim.start("127.0.0.1", 0)
    # in memory: a journal that waits on a worker thread would let the fake clock jump
    # while a call is between its gates and its send
    journal = MemoryJournal(clock=clock)
    try:
        provider = StaticCredentialsProvider(Credentials("k", "s"))
        async with SchedulerXClient(provider, endpoint=sim.url, clock=clock) as client:
            reconciler = Reconciler(client, timezone=plan.timezone, settle_seconds=0.0)
            async with anyio.create_task_group() as tg:
                if gate is not None:
                    tg.start_soon(_release_ended, sim, gate, clock, durations)
                await run_plan(
                    plan,
                    client=client,
                    journal=journal,
                    reconciler=reconciler,
                    clock=clock,
                    capacity=gate,
                    **{"limiter": RateLimiter(10.0, clock=clock), **options},
                )
                tg.cancel_scope.cancel()
    finally:
        journal.close()
        await sim.stop()
    return sim


def _rerun_days(sim: Simulator) -> Counter[tuple[int, str]]:
    return Counter(
        (row["job_id"], row["data_time"][:10])
        for row in sim.instances()
        if row["trigger_type"] == RERUN
    )


@pytest.mark.asyncio
async def test_peaks_at_the_simulator_stay_within_the_caps_and_every_day_runs_once(
    write_plan: Callable[..., Plan], tmp_path: Path
) -> None:
    plan = write_plan(jobs=[1, 2, 3], days=10, chunk_days=7)
    gate = InstanceGate(lambda job: 2, group_cap=3)
    clock = FakeClock()
    sim = await _run(tmp_path / "capped", plan, _config(max_concurrency=4), gate, clock)
    peaks = sim.peaks(trigger_type=RERUN)
    assert max(p["active"] for p in peaks["jobs"].values()) <= 2
    assert peaks["groups"]["cn-hangzhou/ns-1/g1"]["active"] <= 3
    days = _rerun_days(sim)
    assert len(days) == 30
    assert set(days.values()) == {1}  # exactly once, by the simulator's own record

    blind = await _run(tmp_path / "blind", plan, _config(max_concurrency=4), None, clock)
    blind_peaks = blind.peaks(trigger_type=RERUN)
    assert blind_peaks["groups"]["cn-hangzhou/ns-1/g1"]["active"] > 3  # what the cap prevents


@pytest.mark.asyncio
async def test_under_reject_the_caps_keep_every_instance_from_being_rejected(
    write_plan: Callable[..., Plan], tmp_path: Path
) -> None:
    plan = write_plan(jobs=[1, 2, 3], days=6, chunk_days=3)
    config = _config(max_concurrency=2, over_concurrency="reject")
    clock = FakeClock()
    sim = await _run(tmp_path / "capped", plan, config, InstanceGate(lambda job: 2), clock)
    assert [r for r in sim.instances() if r["status"] == 9] == []
    assert len(_rerun_days(sim)) == 18
    blind = await _run(tmp_path / "blind", plan, config, None, clock)
    assert [r for r in blind.instances() if r["status"] == 9]  # sent blindly: days rejected


# -- run windows ------------------------------------------------------------------------

ZONE = ZoneInfo("Asia/Shanghai")
# FakeClock's wall starts at 2024-01-01 00:00 UTC: Monday 08:00 in Shanghai
WINDOW = {"days": "daily", "start": "20:00", "end": "20:30"}


def test_the_waiting_message() -> None:
    now = datetime(2024, 1, 1, 16, 48, tzinfo=ZONE)
    opens = datetime(2024, 1, 1, 20, 0, tzinfo=ZONE)
    assert waiting_message(opens, now) == "waiting for the window (opens 20:00, in 3 h 12 min)"
    later = datetime(2024, 1, 2, 20, 0, tzinfo=ZONE)
    assert waiting_message(later, now) == "waiting for the window (opens Tue 20:00, in 27 h 12 min)"


def _local_call_times(sim: Any) -> list[datetime]:
    times = {row["schedule_ms"] for row in sim.instances() if row["trigger_type"] == RERUN}
    return sorted(datetime.fromtimestamp(ms / 1000, ZONE) for ms in times)


@pytest.mark.asyncio
async def test_nothing_is_sent_outside_a_window(
    write_plan: Callable[..., Plan], tmp_path: Path
) -> None:
    plan = write_plan(jobs=[1, 2], days=14, chunk_days=2, execution={"windows": [WINDOW]})
    clock = FakeClock()
    events: list[RunEvent] = []
    stats = RunStats()
    sim = await _run(
        tmp_path,
        plan,
        _config(max_concurrency=100),
        None,
        clock,
        limiter=RateLimiter(1 / 300, clock=clock),  # one call per 5 min: 6 per window
        on_event=events.append,
        stats=stats,
    )
    calls = _local_call_times(sim)
    assert len(sim.calls()) == 14  # every chunk sent...
    for moment in calls:
        assert (moment.hour, moment.minute) >= (20, 0), moment
        assert (moment.hour, moment.minute) < (20, 30), moment
    evenings = {moment.date() for moment in calls}
    assert len(evenings) >= 2  # ...over several evenings
    waits = [e for e in events if isinstance(e, WindowWaiting)]
    assert waits[0].message == "waiting for the window (opens 20:00, in 12 h 0 min)"
    assert len(waits) == len(evenings)  # once per closed spell, not once per waiting call
    assert stats.waiting is None  # the last wait is over


@pytest.mark.asyncio
async def test_ignore_windows_sends_at_once(
    write_plan: Callable[..., Plan], tmp_path: Path
) -> None:
    plan = write_plan(jobs=[1], days=4, chunk_days=2, execution={"windows": [WINDOW]})
    clock = FakeClock()
    sim = await _run(tmp_path, plan, _config(), None, clock, ignore_windows=True)
    calls = _local_call_times(sim)
    assert len(sim.calls()) == 2
    assert all(moment.hour == 8 for moment in calls)


# -- production first ---------------------------------------------------------------------

PRODUCTION = 1  # TriggerType of a scheduled run


def _production_config() -> SimulatorConfig:
    return SimulatorConfig(
        credentials=(CredentialSpec("k", "s"),),
        jobs=(
            JobSpec(
                "cn-hangzhou",
                "ns-1",
                "g1",
                ((1, 1),),
                run_seconds=600.0,
                max_concurrency=1,
                cron="0 30 * * * ?",  # hourly at :30
                production=True,
            ),
        ),
        quota={"RerunJob": None, "GetJobInstanceList": None},
        instance_wait_seconds=0.0,
        seed=5,
    )


@pytest.mark.asyncio
async def test_production_first_skips_no_scheduled_run_where_blind_dispatch_skips_some(
    write_plan: Callable[..., Plan], tmp_path: Path
) -> None:
    plan = write_plan(jobs=[1], days=12, chunk_days=7)
    clock = FakeClock()
    capacity = InstanceGate(lambda job: 1)  # auto: MaxConcurrency 1
    durations = Durations()
    production = ProductionGate(
        lambda job: QuartzCron("0 30 * * * ?"), capacity.active, durations, ZONE, clock
    )
    sim = await _run(
        tmp_path / "first",
        plan,
        _production_config(),
        capacity,
        clock,
        gates=[production],
        durations=durations,
    )
    clock.advance(12 * 600.0)  # until every instance sent has ended, fires played
    skipped_by_us = [s for s in sim.skipped() if RERUN in s["busy_trigger_types"]]
    assert len(_rerun_days(sim)) == 12
    assert set(_rerun_days(sim).values()) == {1}
    assert production.waits > 0  # it did hold chunks back
    assert sim.peaks(trigger_type=RERUN)["jobs"]["cn-hangzhou/1"]["active"] <= 1

    blind = await _run(tmp_path / "blind", plan, _production_config(), None, clock)
    clock.advance(12 * 600.0)
    skipped_blind = [s for s in blind.skipped() if RERUN in s["busy_trigger_types"]]
    print(f"production runs skipped: {len(skipped_by_us)} first, {len(skipped_blind)} blind")
    assert skipped_by_us == []
    assert len(skipped_blind) > 0


# -- the CLI's choices --------------------------------------------------------------------


def test_a_numeric_cap_without_watching_is_refused_before_anything_is_sent(
    write_plan: Callable[..., Plan], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rerun_orchestrator.cli import main  # noqa: PLC0415

    plan = write_plan(jobs=[1], days=3, execution={"max_active_per_job": 2})
    assert plan.path is not None
    journal = tmp_path / "j.sqlite"
    args = ["run", str(plan.path), "--simulate", "--journal", str(journal), "--no-progress"]
    assert main([*args, "--no-watch"]) == 2
    err = capsys.readouterr().err
    assert "need watching" in err
    assert "--no-watch" in err
    assert not journal.exists()  # refused before the journal was even opened


def test_auto_caps_follow_the_facts_and_production_first_guards_only_max_concurrency_1() -> None:
    from rerun_orchestrator.journal._model import JobFactsEntry, JobIdentity  # noqa: PLC0415
    from rerun_orchestrator.plan import load_plan_text  # noqa: PLC0415
    from rerun_orchestrator.run._neighbour import build_neighbour  # noqa: PLC0415

    text = (
        "version: 1\nname: t\ntimezone: Asia/Shanghai\nregion: cn-hangzhou\nnamespace: ns-1\n"
        'group: g1\ndata_time: "10:00:00"\n'
        "targets:\n  - jobs: [1, 2, 3]\n    windows: [{start: 2024-01-01, end: 2024-01-07}]\n"
    )
    plan = load_plan_text(text, source="p.yaml")

    def fact(job: int, cap: int) -> JobFactsEntry:
        where = JobIdentity("cn-hangzhou", "ns-1", None, "g1", job)
        return JobFactsEntry(where, "j", True, cap, 1, "0 0 2 * * ?", None, None, True, 0.0)

    facts = {f.job: f for f in (fact(1, 1), fact(2, 4))}  # job 3 never checked
    neighbour = build_neighbour(plan, facts, FakeClock(), watch=True)
    gate = neighbour.capacity
    assert gate is not None
    assert gate.try_start(Ticket(A, 7)) == Ticket(A, 1)  # MaxConcurrency 1
    assert gate.try_start(Ticket(B, 7)) == Ticket(B, 4)
    assert gate.try_start(Ticket(C, 7)) == Ticket(C, 7)  # unknown: not capped, and said so
    assert any("not checked by the pre-flight" in note for note in neighbour.notes)
    assert len(neighbour.gates) == 1  # production first, for job 1's cron
    unwatched = build_neighbour(plan, facts, FakeClock(), watch=False)
    assert unwatched.capacity is None
