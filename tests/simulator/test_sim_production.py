"""Scheduled production runs from a Quartz cron, skipped (and recorded) when the job is busy;
and the Quartz reading itself, on the documented examples."""

from __future__ import annotations

from datetime import datetime
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rerun_orchestrator._quartz import QuartzCron, QuartzError, to_croniter
from rerun_orchestrator.simulator import JobSpec, SimulatorConfigError

DAY = 86_400_000
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.asyncio
async def test_a_busy_job_skips_its_scheduled_run_and_the_skip_is_recorded(
    start_sim: Any, make_config: Any, raw: Any, params: Any, clock: Any
) -> None:
    # Every minute at second 0; max concurrency 1 (SchedulerX's default).
    jobs = (JobSpec("cn-hangzhou", "ns-1", "g1", ((10, 10),), cron="0 * * * * ?", production=True),)
    config = make_config(jobs=jobs, instance_wait_seconds=0.0, instance_run_seconds=30.0)
    sim = await start_sim(config, clock=clock)
    client = raw(sim, wall=clock.wall)
    clock.advance(120)  # two minutes idle: two scheduled runs, none skipped
    scheduled = [r for r in sim.instances(10) if r["trigger_type"] == 1]
    assert len(scheduled) == 2
    assert sim.skipped() == []
    # A rerun of 10 days at 30 s each keeps the job busy for 5 minutes.
    clock.advance(31)
    now = clock.wall()
    await client.v3("RerunJob", params.rerun(end=1_645_459_200_000 + 9 * DAY))
    clock.advance(300)
    skipped = sim.skipped()
    assert 4 <= len(skipped) <= 5
    assert all(s["job_id"] == 10 and s["busy_trigger_types"] == [2] for s in skipped)
    fires = [s["fire_ms"] for s in skipped]
    assert fires == sorted(fires)
    assert all(f > now * 1000 for f in fires)
    assert all(f % 60_000 == 0 for f in fires)  # at second 0 of a minute
    assert sim.counters()["_totals"]["skipped"] == len(skipped)
    clock.advance(120)  # free again: the next runs happen
    assert len(sim.skipped()) == len(skipped)


@pytest.mark.asyncio
async def test_the_skip_route_over_http(
    start_sim: Any, make_config: Any, http: Any, clock: Any
) -> None:
    jobs = (
        JobSpec(
            "cn-hangzhou",
            "ns-1",
            "g1",
            ((10, 11),),
            cron="*/10 * * * * ?",
            production=True,
            run_seconds=25.0,  # longer than the period: every other run is skipped
        ),
    )
    sim = await start_sim(make_config(jobs=jobs), clock=clock)
    clock.advance(60)
    async with http.get(f"{sim.url}/_simulator/skipped") as response:
        skipped = await response.json()
    assert {s["job_id"] for s in skipped} == {10, 11}
    assert 4 <= sum(s["job_id"] == 10 for s in skipped) <= 8
    assert all(s["busy_trigger_types"] == [1] for s in skipped)


def test_production_needs_a_readable_cron() -> None:
    with pytest.raises(SimulatorConfigError, match="Quartz"):
        JobSpec("cn-hangzhou", "ns-1", "g1", ((1, 1),), cron="0 2 * * *")
    with pytest.raises(SimulatorConfigError, match="day of week"):
        JobSpec("cn-hangzhou", "ns-1", "g1", ((1, 1),), cron="0 0 2 ? * 8")


def fires(expression: str, start: datetime, n: int = 3) -> list[str]:
    times = islice(QuartzCron(expression).fire_times(start), n)
    return [t.strftime("%a %Y-%m-%d %H:%M:%S") for t in times]


START = datetime(2024, 6, 1, tzinfo=SHANGHAI)  # a Saturday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # The Quartz examples SchedulerX's cron help page gives.
        (
            "0 0 12 * * ?",
            ["Sat 2024-06-01 12:00:00", "Sun 2024-06-02 12:00:00", "Mon 2024-06-03 12:00:00"],
        ),
        (
            "0 15 10 ? * *",
            ["Sat 2024-06-01 10:15:00", "Sun 2024-06-02 10:15:00", "Mon 2024-06-03 10:15:00"],
        ),
        (
            "0 15 10 * * ? 2025",
            ["Wed 2025-01-01 10:15:00", "Thu 2025-01-02 10:15:00", "Fri 2025-01-03 10:15:00"],
        ),
        (
            "0 0/5 14 * * ?",
            ["Sat 2024-06-01 14:00:00", "Sat 2024-06-01 14:05:00", "Sat 2024-06-01 14:10:00"],
        ),
        (
            "0 10,44 14 ? 3 WED",
            ["Wed 2025-03-05 14:10:00", "Wed 2025-03-05 14:44:00", "Wed 2025-03-12 14:10:00"],
        ),
        (
            "0 15 10 ? * MON-FRI",
            ["Mon 2024-06-03 10:15:00", "Tue 2024-06-04 10:15:00", "Wed 2024-06-05 10:15:00"],
        ),
        (
            "0 15 10 15 * ?",
            ["Sat 2024-06-15 10:15:00", "Mon 2024-07-15 10:15:00", "Thu 2024-08-15 10:15:00"],
        ),
        (
            "0 15 10 L * ?",
            ["Sun 2024-06-30 10:15:00", "Wed 2024-07-31 10:15:00", "Sat 2024-08-31 10:15:00"],
        ),
        (
            "0 15 10 ? * 6L",
            ["Fri 2024-06-28 10:15:00", "Fri 2024-07-26 10:15:00", "Fri 2024-08-30 10:15:00"],
        ),
        (
            "0 15 10 ? * 6#3",
            ["Fri 2024-06-21 10:15:00", "Fri 2024-07-19 10:15:00", "Fri 2024-08-16 10:15:00"],
        ),
        # Quartz numbers the days of the week 1 (SUN) to 7 (SAT): 2-6 is Monday to Friday.
        (
            "0 0 2 ? * 2-6",
            ["Mon 2024-06-03 02:00:00", "Tue 2024-06-04 02:00:00", "Wed 2024-06-05 02:00:00"],
        ),
        (
            "0 0 2 ? * 1,7",
            ["Sat 2024-06-01 02:00:00", "Sun 2024-06-02 02:00:00", "Sat 2024-06-08 02:00:00"],
        ),
        (
            "0 0 9 15W * ?",
            ["Fri 2024-06-14 09:00:00", "Mon 2024-07-15 09:00:00", "Thu 2024-08-15 09:00:00"],
        ),
    ],
)
def test_quartz_examples(expression: str, expected: list[str]) -> None:
    assert fires(expression, START) == expected


def test_quartz_refuses_what_it_cannot_read() -> None:
    for bad in ("0 2 * * *", "0 0 2 ? * 0", "0 0 0 LW * ?", "x y z a b c"):
        with pytest.raises(QuartzError):
            QuartzCron(bad)
    assert to_croniter("0 0 2 ? * 6L") == "0 0 2 ? * L5"
    assert QuartzCron("0 0 12 * * ? 2020").next_after(START) is None
