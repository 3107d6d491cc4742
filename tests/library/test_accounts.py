"""One account, one pace: runs of one account share its pacers, at the lowest plan's rate.

Measured at the simulator: its RerunJob quota is set to the lower plan's rate (burst 1) and
it shares the runs' fake clock, so any call faster than that rate is throttled there.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import anyio
import pytest

import rerun_orchestrator as ro
from rerun_orchestrator.simulator import QuotaSpec, SimulatorConfig
from rerun_orchestrator.testing import RerunHarness

SLOW, FAST = 2.0, 10.0


@pytest.fixture
def schedulerx_simulator_config(schedulerx_simulator_config: SimulatorConfig) -> SimulatorConfig:
    return dataclasses.replace(
        schedulerx_simulator_config,
        # a burst of 2: one call arriving a little late must not make the next one look early
        quota={"RerunJob": QuotaSpec(SLOW, 2.0), "GetJobInstanceList": None},
    )


async def _run_both(
    harness: RerunHarness, tmp_path: Path, first: ro.Plan, second: ro.Plan
) -> list[ro.RunResult]:
    handles = []
    async with anyio.create_task_group() as tg:
        for plan in (first, second):
            journal = ro.MemoryJournal(clock=harness.clock)
            handles.append(ro.start_run(plan, harness.wiring(plan, journal), task_group=tg))
        account = harness.accounts.get(harness.account)
        await anyio.lowlevel.checkpoint()
        while account.running < 2 and not any(h.done for h in handles):
            await harness.clock.sleep(0.01)
        assert account.ceiling == SLOW  # the lower rate, whichever plan came first
        assert account.rate <= SLOW
    return [await h.result() for h in handles]


@pytest.mark.parametrize("slow_first", [True, False])
@pytest.mark.asyncio
async def test_two_runs_on_one_account_are_held_to_the_lower_rate(
    make_plan: Any, rerun_harness: RerunHarness, tmp_path: Path, slow_first: bool
) -> None:
    slow = make_plan("slow", "1-2", f"{SLOW:g}/s")
    fast = make_plan("fast", "3-4", f"{FAST:g}/s")
    plans = (slow, fast) if slow_first else (fast, slow)
    started = rerun_harness.clock.now()
    results = await _run_both(rerun_harness, tmp_path, *plans)
    elapsed = rerun_harness.clock.now() - started
    assert [r.exit_code for r in results] == [0, 0], results
    counters = rerun_harness.simulator.counters()["RerunJob"]
    assert counters["accepted"] == 16
    assert counters["throttled"] == 0  # never faster than the account's (lower) rate
    assert elapsed >= (16 - 1) / SLOW - 1e-6


@pytest.mark.asyncio
async def test_the_first_plans_rate_does_not_win_silently(
    make_plan: Any, rerun_harness: RerunHarness, tmp_path: Path
) -> None:
    """Without the rule a fast plan's pacer would send at 10/s into a 2/s quota."""
    fast = make_plan("fast", "3-4", f"{FAST:g}/s")
    journal = ro.MemoryJournal(clock=rerun_harness.clock)
    wiring = rerun_harness.wiring(fast, journal, account=None)  # its own pacer at 10/s
    await ro.run_plan(fast, wiring)
    assert rerun_harness.simulator.counters()["RerunJob"]["throttled"] > 0


def test_a_registered_rate_caps_every_plan_and_the_registry_refuses_twice() -> None:
    accounts = ro.AccountRegistry()
    account = accounts.register("team-a", rate=ro.Rate(60, 60), concurrency=3)
    assert accounts.get("team-a") is account
    with account.joined(ro.Rate(10, 1)):
        assert account.ceiling == 1.0
        with account.joined(ro.Rate(30, 60)):
            assert account.ceiling == 0.5
        assert account.ceiling == 1.0
    assert account.slots is not None
    assert account.slots.limit == 3
    with pytest.raises(ValueError, match="already"):
        accounts.register("team-a")


def test_an_unregistered_account_takes_its_ceiling_from_the_plan_starting_when_idle() -> None:
    accounts = ro.AccountRegistry()
    account = accounts.get("AK")
    with account.joined(1.0), account.joined(5.0):  # joins a slower run: held to it
        assert account.ceiling == 1.0
    with account.joined(5.0):  # alone now: its own rate
        assert account.ceiling == account.rate == 5.0
    del account
    assert "AK" not in accounts  # forgotten once nobody holds it


@pytest.mark.asyncio
async def test_the_accounts_reconciler_draws_on_its_read_pacer(
    make_plan: Any,
    rerun_harness: RerunHarness,
) -> None:
    plan = make_plan("r", "1", "1/s", days=7)
    account = rerun_harness.accounts.get(rerun_harness.account)
    reconciler = rerun_harness.reconciler(plan)
    chunk = next(iter(plan.chunks()))
    record = ro.ChunkRecord(
        chunk, ro.ChunkStatus.UNKNOWN, attempts=1, attempt_started_at=rerun_harness.clock.wall()
    )
    before = account.reads.granted
    await reconciler.reconcile(record)
    assert account.reads.granted > before


@pytest.mark.asyncio
async def test_a_preflight_given_the_registry_draws_on_the_accounts_read_pacer(
    make_plan: Any, rerun_harness: RerunHarness
) -> None:
    from rerun_orchestrator.preflight import preflight_plan  # noqa: PLC0415

    plan = make_plan("pf", "1-3", "1/s", days=7)
    account = rerun_harness.accounts.get(rerun_harness.account)
    before = account.reads.granted
    check = await preflight_plan(
        plan,
        rerun_harness.client,
        account=rerun_harness.account,
        clock=rerun_harness.clock,
        accounts=rerun_harness.accounts,
    )
    assert check.report.bad_jobs == 0
    assert account.reads.granted - before == sum(check.report.calls.values())
