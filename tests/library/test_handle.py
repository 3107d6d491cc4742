"""A run handle: start, watch (stats, rate, events), stop or cancel, await the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

import rerun_orchestrator as ro
from rerun_orchestrator.testing import RerunHarness


async def _journal(tmp_path: Path, plan: ro.Plan) -> ro.SqliteJournal:
    return await ro.open_plan_journal(tmp_path / f"{plan.name}.sqlite", plan)


@pytest.mark.asyncio
async def test_a_handle_runs_to_the_end_and_streams_every_event(
    make_plan: Any, rerun_harness: RerunHarness, tmp_path: Path
) -> None:
    plan = make_plan("h1", "1-3", "10/s")
    journal = await _journal(tmp_path, plan)
    seen: list[ro.RunEvent] = []
    async with anyio.create_task_group() as tg:
        run = ro.start_run(plan, rerun_harness.wiring(plan, journal), task_group=tg)
        events = run.events()

        async def read() -> None:
            async with events:
                async for event in events:
                    seen.append(event)

        tg.start_soon(read)
        result = await run.result()
    await ro.close_journal(journal)
    assert result.exit_code == 0
    assert result.counts.succeeded == 12
    assert run.stats.counts().succeeded == 12
    assert run.rate == pytest.approx(10.0)
    assert isinstance(seen[0], ro.RunStarted)
    assert isinstance(seen[-1], ro.RunFinished)
    assert {e.run_id for e in seen} == {run.run_id}
    assert {e.plan for e in seen} == {"h1"}
    assert len(rerun_harness.simulator.calls()) == 12


@pytest.mark.asyncio
async def test_stop_lets_calls_in_flight_finish_and_says_stopped(
    make_plan: Any, rerun_harness: RerunHarness, tmp_path: Path
) -> None:
    plan = make_plan("h2", "1-40", "5/s")
    journal = await _journal(tmp_path, plan)
    async with (
        ro.start_run(plan, rerun_harness.wiring(plan, journal)) as run,
        run.events() as events,
    ):
        async for event in events:
            if isinstance(event, ro.ChunkFinished):
                run.stop()
    result = await run.result()
    await ro.close_journal(journal)
    assert result.stopped
    assert result.exit_code != 0
    sent = len(rerun_harness.simulator.calls())
    assert 1 <= sent < 160
    assert result.counts.succeeded == sent  # every call that went out is recorded


@pytest.mark.asyncio
async def test_cancel_ends_the_run_at_once_and_result_says_so(
    make_plan: Any, rerun_harness: RerunHarness, tmp_path: Path
) -> None:
    plan = make_plan("h3", "1-40", "1/s")
    journal = await _journal(tmp_path, plan)
    async with anyio.create_task_group() as tg:
        run = ro.start_run(plan, rerun_harness.wiring(plan, journal), task_group=tg)
        async with run.events() as events:
            async for event in events:
                if isinstance(event, ro.AttemptFinished):
                    run.cancel()
        with pytest.raises(ro.RunCancelledError):
            await run.result()
    assert run.done
    assert len(rerun_harness.simulator.calls()) < 160
    await ro.close_journal(journal)


@pytest.mark.asyncio
async def test_a_failing_run_raises_from_result_not_in_the_task_group(
    make_plan: Any, rerun_harness: RerunHarness, tmp_path: Path
) -> None:
    plan = make_plan("h4", "1-2", "10/s")
    journal = await _journal(tmp_path, plan)
    await ro.close_journal(journal)  # a closed journal: the run fails on its first write
    async with anyio.create_task_group() as tg:
        run = ro.start_run(plan, rerun_harness.wiring(plan, journal), task_group=tg)
        with pytest.raises(Exception, match=r"(?i)closed"):
            await run.result()


@pytest.mark.asyncio
async def test_old_keywords_still_work_and_unknown_ones_are_refused(
    make_plan: Any, rerun_harness: RerunHarness, tmp_path: Path
) -> None:
    plan = make_plan("h5", "1-2", "10/s")
    journal = ro.MemoryJournal(clock=rerun_harness.clock)
    result = await ro.run_plan(
        plan, client=rerun_harness.client, journal=journal, clock=rerun_harness.clock
    )
    assert result.counts.succeeded == 8
    with pytest.raises(TypeError, match="unexpected keyword"):
        await ro.run_plan(plan, client=rerun_harness.client, journal=journal, colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="RunWiring"):
        await ro.run_plan(plan, retry_failed=True)


@pytest.mark.asyncio
async def test_report_and_status_off_the_loop_say_what_the_run_did(
    make_plan: Any, rerun_harness: RerunHarness, tmp_path: Path
) -> None:
    import json  # noqa: PLC0415

    plan = make_plan("h6", "1-2", "10/s")
    journal = await _journal(tmp_path, plan)
    await ro.run_plan(plan, rerun_harness.wiring(plan, journal))
    report = json.loads(await ro.plan_report(journal, plan))
    status = await ro.journal_status(journal)
    await ro.close_journal(journal)
    assert report["plan"] == "h6"
    assert report["counts"] == {"total": 8, "succeeded": 8, "failed": 0, "unknown": 0, "pending": 0}
    assert status["counts"]["succeeded"] == 8
    assert [p["name"] for p in status["plans"]] == ["h6"]


@pytest.mark.asyncio
async def test_one_policy_serves_many_runs_each_with_its_own_id(
    make_plan: Any, rerun_harness: RerunHarness
) -> None:
    plan = make_plan("h7", "1", "10/s", days=7)
    policy = ro.RunPolicy(retry_failed=True)
    ids = set()
    for _ in range(2):
        wiring = rerun_harness.wiring(plan, ro.MemoryJournal(clock=rerun_harness.clock))
        async with ro.start_run(plan, wiring, policy) as run:
            pass
        assert (await run.result()).exit_code == 0
        ids.add(run.run_id)
    assert len(ids) == 2
    assert all(ids)
