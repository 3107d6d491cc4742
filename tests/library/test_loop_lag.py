"""Never block the loop: a service's other callbacks keep running while a huge plan starts.

A probe task ticks every 5 ms and records how long the event loop's thread worked between
two of its ticks (thread CPU time: what the loop did instead of serving the probe; wall
time too, loosely, since a loaded machine can pause any process). The run opens its
journal, starts a plan of a million days, sends a few hundred chunks, stops, and counts
the plan in the journal: before the second release that count alone held the loop for
15 s and more.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

import rerun_orchestrator as ro
from rerun_orchestrator.run import close_journal, open_plan_journal
from rerun_orchestrator.schedulerx import ApiResponse

MILLION_DAYS = """
version: 1
name: million
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns-1
group: g1
data_time: "01:00:00"
chunk_days: 1
targets:
  - jobs: ["1-1000"]
    windows: [{start: 2021-01-01, end: 2023-09-27}]
execution: {rate: 1000/s, concurrency: 8}
"""
TICK = 0.005
SENDS = 500


class InstantClient:
    def __init__(self) -> None:
        self.sent = 0
        self.enough = anyio.Event()

    async def rerun_job(self, params: ro.RerunJobParams) -> ro.AttemptResult:
        self.sent += 1
        if self.sent >= SENDS:
            self.enough.set()
        response = ApiResponse(200, f"REQ-{self.sent}", 200, True, None)
        return ro.AttemptResult(ro.Verdict.SUCCEEDED, "accepted", response, elapsed_ms=1.0)


class LoopProbe:
    """The longest gaps between ticks, in the loop thread's CPU time and in wall time."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.wall = 0.0
        self._last = (time.thread_time(), time.perf_counter())

    def tick(self) -> None:
        cpu, wall = time.thread_time(), time.perf_counter()
        self.cpu = max(self.cpu, cpu - self._last[0])
        self.wall = max(self.wall, wall - self._last[1] - TICK)
        self._last = (cpu, wall)

    async def run(self) -> None:
        while True:
            await anyio.sleep(TICK)
            self.tick()


@pytest.mark.slow
@pytest.mark.asyncio
async def test_a_million_day_plan_starts_without_blocking_the_loop(tmp_path: Path) -> None:
    plan = ro.load_plan_text(MILLION_DAYS, source="million")
    assert plan.count_job_days() == 1_000_000
    client = InstantClient()
    probe = LoopProbe()
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(probe.run)
        journal = await open_plan_journal(tmp_path / "million.sqlite", plan)
        probe.tick()

        async def stop_when_enough() -> None:
            await client.enough.wait()
            stop.set()

        tg.start_soon(stop_when_enough)
        result = await ro.run_plan(
            plan, client=client, journal=journal, stop=stop, limiter=ro.RateLimiter(1e6)
        )
        probe.tick()  # the last stretch, up to the run's return, counts too
        await close_journal(journal)
        probe.tick()
        tg.cancel_scope.cancel()
    assert result.counts.total == 1_000_000
    assert SENDS <= result.counts.succeeded == client.sent < 2 * SENDS
    assert result.days is not None
    assert result.days.pending == 1_000_000 - client.sent
    # What this guards against, a pass over the plan's million days on the loop, costs
    # seconds; 180 ms was seen under coverage's tracing on a machine loaded twice over
    # (CI): a bound that holds there, still far below the regression.
    assert probe.cpu < 0.400, f"the loop worked {probe.cpu * 1000:.0f} ms without a break"
    assert probe.wall < 1.0, f"a callback waited {probe.wall * 1000:.0f} ms"
