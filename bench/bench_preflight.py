"""How close the pre-flight comes to the GetJobInfo quota, in simulated time.

A plan of N jobs (default 500) is checked against the simulator at the real read quota
(100/min per API and account, burst of one second's worth), our client and the shared
pacer at `read_rate` = the quota, on a `FakeClock` (so five simulated minutes take a few
real seconds). Printed, all measured in this run:

- elapsed simulated time ÷ the bound ``(N - 1) ÷ quota`` (the first call is free): 1.00
  means the check goes exactly as fast as the quota allows;
- throttled answers ÷ calls, counted by the simulator (goal: 0);
- the same with another caller spending a third of the account's GetJobInfo quota (the
  best possible is then 1.5 x the bound), with the default fixed pacer and with the
  adaptive one RerunJob uses: throttles (retried) against time.

    .venv/bin/python bench/bench_preflight.py [--jobs 500]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

import yaml

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator.plan import Rate, load_plan
from rerun_orchestrator.preflight import GET_JOB_INFO, preflight_plan
from rerun_orchestrator.run import AdaptiveLimiter, LimiterRegistry, RateLimiter
from rerun_orchestrator.schedulerx import (
    ApiCallError,
    Credentials,
    SchedulerXClient,
    StaticCredentialsProvider,
)
from rerun_orchestrator.simulator import CredentialSpec, JobSpec, Simulator, SimulatorConfig

QUOTA = Rate(100, 60)


def write_plan(directory: Path, jobs: int) -> Path:
    plan = {
        "version": 1,
        "name": "bench-preflight",
        "timezone": "Asia/Shanghai",
        "region": "cn-hangzhou",
        "namespace": "ns-1",
        "group": "g1",
        "data_time": "10:00:00",
        "targets": [
            {"jobs": [f"1-{jobs}"], "windows": [{"start": "2024-01-01", "end": "2024-01-07"}]}
        ],
    }
    path = directory / "plan.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


async def case(
    path: Path, jobs: int, *, neighbour: float | None, adaptive: bool = False
) -> tuple[float, float, int]:
    clock = FakeClock(wall_start=time.time())
    config = SimulatorConfig(
        credentials=(CredentialSpec("bench", "bench-secret"),),
        jobs=(JobSpec("cn-hangzhou", "ns-1", "g1", ((1, jobs),)),),
        quota={"GetJobInfo": "100/min", "ListGroups": "100/min"},
    )
    provider = StaticCredentialsProvider(Credentials("bench", "bench-secret"))
    async with Simulator(config, clock=clock) as sim:
        async with SchedulerXClient(provider, endpoint=sim.url, clock=clock) as client:
            other = None
            if neighbour is not None:
                other = asyncio.ensure_future(_neighbour(client, clock, neighbour))
            limiters = LimiterRegistry()
            pacer = AdaptiveLimiter(QUOTA, clock=clock) if adaptive else None
            if pacer is not None:  # the registry hands the pre-flight this one
                limiters.get("bench", GET_JOB_INFO, lambda: pacer)
            started = clock.now()
            check = await preflight_plan(
                load_plan(path),
                client,
                account="bench",
                read_rate=QUOTA,
                clock=clock,
                limiters=limiters,
            )
            elapsed = clock.now() - started
            if other is not None:
                other.cancel()
        assert check.ok, check.diagnostics()[:3]
        counters = sim.counters()["GetJobInfo"]
    ours = check.report.calls["GetJobInfo"]
    bound = (jobs - 1) / QUOTA.per_second
    return elapsed / bound, counters["throttled"] / max(1, counters["requests"]), ours


async def _neighbour(client: SchedulerXClient, clock: FakeClock, rate: float) -> None:
    pacer = RateLimiter(rate, clock=clock)
    while True:
        await pacer.acquire()
        with contextlib.suppress(ApiCallError):  # throttled: it does not retry
            await client.get_job_info(
                region="cn-hangzhou", namespace="ns-1", group_id="g1", job_id=1
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_plan(Path(tmp), args.jobs)
        alone = asyncio.run(case(path, args.jobs, neighbour=None))
        third = QUOTA.per_second / 3
        fixed = asyncio.run(case(path, args.jobs, neighbour=third))
        adaptive = asyncio.run(case(path, args.jobs, neighbour=third, adaptive=True))
    print(f"pre-flight of {args.jobs} jobs at the GetJobInfo quota of {QUOTA} (simulated time)")
    print(f"  alone:              elapsed / bound {alone[0]:.3f}, throttled {alone[1]:.1%}")
    for name, (ratio, throttled, calls) in (("fixed", fixed), ("adaptive", adaptive)):
        print(
            f"  neighbour at 1/3, {name + ' pacer:':16} elapsed / bound {ratio:.3f} "
            f"(best 1.5), throttled {throttled:.1%}, {calls} GetJobInfo calls for {args.jobs} jobs"
        )


if __name__ == "__main__":
    main()
