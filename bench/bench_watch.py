"""What watching costs in GetJobInstanceList calls, and how late the ledger learns an end.

N jobs (default 500) x D days (default 30) are rerun on the simulator (one RerunJob per
job, sent unpaced: sending is bench_run's subject), each instance running 10 min +- 50%
with `max_concurrency` 5 and a 15% failure rate, on a `FakeClock` (hours of simulated
time take seconds). Then the watcher of `run` follows every day to its end at the real
read quota (100/min per account, the simulator enforcing it): the shared pacer at the
quota and the watcher's own share (`WATCH_SHARE` of it in listings). Printed, all
measured in this run:

- GetJobInstanceList calls (pages) per watched day, counted by the simulator;
- the calls' share of the quota over the watch (what is left is reconciliation's room);
- the lag between an instance's end on the server and the ledger recording it
  (median, 90th percentile, max), in simulated seconds;
- throttled answers (goal: 0).

    .venv/bin/python bench/bench_watch.py [--jobs 500] [--days 30]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog
import yaml

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator.journal import MemoryJournal
from rerun_orchestrator.journal._model import ChunkStatus
from rerun_orchestrator.journal._view import derive_chunks, job_view, plan_jobs
from rerun_orchestrator.plan import Plan, Rate, load_plan
from rerun_orchestrator.run import RateLimiter, Reconciler
from rerun_orchestrator.run._attempt import rerun_params
from rerun_orchestrator.run._session import MAX_WATCH_POLL, WATCH_SHARE
from rerun_orchestrator.run._watch import InstanceWatcher, instance_counts
from rerun_orchestrator.schedulerx import (
    Credentials,
    SchedulerXClient,
    StaticCredentialsProvider,
)
from rerun_orchestrator.simulator import CredentialSpec, JobSpec, Simulator, SimulatorConfig

QUOTA = Rate(100, 60)


def write_plan(directory: Path, jobs: int, days: int) -> Path:
    plan = {
        "version": 1,
        "name": "bench-watch",
        "timezone": "Asia/Shanghai",
        "region": "cn-hangzhou",
        "namespace": "ns-1",
        "group": "g1",
        "data_time": "10:00:00",
        "chunk_days": days,
        "targets": [
            {
                "jobs": [f"1-{jobs}"],
                "windows": [{"start": "2024-01-01", "end": f"2024-01-{days:02d}"}],
            }
        ],
    }
    path = directory / "plan.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


async def case(path: Path, jobs: int, days: int) -> dict[str, float]:
    clock = FakeClock(wall_start=time.time())
    config = SimulatorConfig(
        credentials=(CredentialSpec("bench", "bench-secret"),),
        jobs=(JobSpec("cn-hangzhou", "ns-1", "g1", ((1, jobs),), max_concurrency=5),),
        quota={"RerunJob": None, "GetJobInstanceList": "100/min"},
        instance_wait_seconds=0.0,
        instance_run_seconds=600.0,
        instance_run_spread=0.5,
        failure_rate=0.15,
        seed=1,
    )
    plan = load_plan(path)
    journal = MemoryJournal(plan_name=plan.name, clock=clock)
    provider = StaticCredentialsProvider(Credentials("bench", "bench-secret"))
    async with Simulator(config, clock=clock) as sim:
        async with SchedulerXClient(provider, endpoint=sim.url, clock=clock) as client:
            await _send_all(plan, journal, client, clock)
            reads = RateLimiter(QUOTA, clock=clock)
            reconciler = Reconciler(
                client, clock=clock, timezone=plan.timezone, acquire=reads.acquire
            )
            watcher = InstanceWatcher(
                reconciler,
                journal,
                plan,
                clock=clock,
                max_poll=MAX_WATCH_POLL,
                acquire=RateLimiter(QUOTA.per_second * WATCH_SHARE, clock=clock).acquire,
            )
            started = clock.now()
            await watcher.run()
            elapsed = clock.now() - started
        counters = sim.counters()["GetJobInstanceList"]
    counts = instance_counts(journal, plan, since=watcher.since)
    assert "null" not in counts, counts
    assert "waiting" not in counts, counts
    lags = sorted(watcher.lags)
    watched = jobs * days
    return {
        "calls_per_day": counters["requests"] / watched,
        "quota_share": counters["requests"] / (elapsed * QUOTA.per_second),
        "throttled": counters["throttled"],
        "lag_median": statistics.median(lags),
        "lag_p90": lags[int(len(lags) * 0.9)],
        "lag_max": lags[-1],
        "elapsed_h": elapsed / 3600,
        "success": counts.get("success", 0),
        "failed": counts.get("failed", 0),
    }


async def _send_all(
    plan: Plan, journal: MemoryJournal, client: SchedulerXClient, clock: FakeClock
) -> None:
    """Each job's one chunk, accepted, as `run` would record it."""
    zone = ZoneInfo(plan.timezone)
    for job in plan_jobs(plan):
        (chunk,) = derive_chunks(job_view(journal, job), zone, retry_failed=False)
        record = journal.propose(chunk, plan=plan.name, timezone=plan.timezone)
        await journal.mark_in_flight(record.key, clock.wall())
        result = await client.rerun_job(rerun_params(chunk))
        assert result.request_id is not None, result.reason
        journal.record_outcome(record.key, ChunkStatus.SUCCEEDED, request_id=result.request_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    with tempfile.TemporaryDirectory() as tmp:
        real = time.monotonic()
        r = asyncio.run(case(write_plan(Path(tmp), args.jobs, args.days), args.jobs, args.days))
        real = time.monotonic() - real
    print(
        f"watching {args.jobs} jobs x {args.days} days at the read quota of {QUOTA} "
        f"({r['elapsed_h']:.2f} h simulated, {real:.0f} s real)"
    )
    print(f"  GetJobInstanceList calls per watched day: {r['calls_per_day']:.3f}")
    print(f"  share of the read quota used by watching: {r['quota_share']:.1%}")
    print(f"  throttled answers: {r['throttled']}")
    print(
        f"  lag end -> ledger (s): median {r['lag_median']:.0f}, p90 {r['lag_p90']:.0f}, "
        f"max {r['lag_max']:.0f}"
    )
    print(f"  days: {r['success']} success, {r['failed']} failed")


if __name__ == "__main__":
    main()
