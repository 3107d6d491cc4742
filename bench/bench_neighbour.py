"""Makespan of a capped, windowed backfill in simulated time, against its lower bound.

A mixed plan on the in-process simulator, all on one `FakeClock` (hours in a second):
group A holds four jobs with MaxConcurrency 1 and two with 4, group B four jobs with 4;
the plan caps group A at 4 and group B at 8 active instances, runs 20:00-06:00 every day
(a 10 h window) and instances take 10 minutes. The wired path is `run`'s: the caps built
from the plan (group caps in each target's own `execution:`) and the jobs' MaxConcurrency
(the pre-flight's facts) by `build_neighbour`, and the real `InstanceWatcher` giving each
ended day's slot back.

Lower bound W = max(calls / quota, each job's days x duration / its cap, each group's
days x duration / its cap), in hours of open window: the bound on elapsed time is when the
window has been open W - duration (dispatch happens only then), plus one duration (the
last instance). Blind dispatch (today's: no caps, no windows) is timed for comparison;
it is not bound by the window, so its ratio is to W itself, and its peaks are shown.

    .venv/bin/python bench/bench_neighbour.py [--days 60]  (--days 21: about 2 min)

Goal (issue 16): capped makespan <= 1.25 x the bound.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import structlog
import yaml

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator.journal import MemoryJournal
from rerun_orchestrator.journal._model import JobFactsEntry, JobIdentity
from rerun_orchestrator.plan import load_plan
from rerun_orchestrator.run import RateLimiter, Reconciler, run_plan
from rerun_orchestrator.run._neighbour import build_neighbour
from rerun_orchestrator.run._watch import InstanceWatcher
from rerun_orchestrator.schedulerx import Credentials, SchedulerXClient, StaticCredentialsProvider
from rerun_orchestrator.simulator import CredentialSpec, JobSpec, Simulator, SimulatorConfig

ZONE = ZoneInfo("Asia/Shanghai")
RUN = 600.0
START = datetime(2024, 1, 1, 20, 0, tzinfo=ZONE)  # as the window opens
WINDOW = (20, 6)  # hours: 20:00-06:00
GROUPS = {"gA": ({1: 1, 2: 1, 3: 1, 4: 1, 5: 4, 6: 4}, 4), "gB": ({7: 4, 8: 4, 9: 4, 10: 4}, 8)}
RATE = 100 / 60


def _config() -> SimulatorConfig:
    jobs = tuple(
        JobSpec("cn-hangzhou", "ns-1", group, ((job, job),), max_concurrency=cap, run_seconds=RUN)
        for group, (caps, _) in GROUPS.items()
        for job, cap in caps.items()
    )
    return SimulatorConfig(
        credentials=(CredentialSpec("k", "s"),),
        jobs=jobs,
        quota={"RerunJob": "100/min", "GetJobInstanceList": None},
        instance_wait_seconds=0.0,
        seed=1,
    )


def _plan(tmp: Path, days: int, *, windows: bool) -> Any:
    end = (datetime(2023, 1, 1) + timedelta(days=days - 1)).date().isoformat()
    execution: dict[str, Any] = {"rate": "100/min", "concurrency": 16}
    if windows:
        execution["windows"] = [{"days": "daily", "start": "20:00", "end": "06:00"}]
    plan = {
        "version": 1,
        "name": "bench",
        "timezone": "Asia/Shanghai",
        "region": "cn-hangzhou",
        "namespace": "ns-1",
        "data_time": "00:00:00",
        "chunk_days": 7,
        "targets": [
            {
                "group": group,
                "jobs": list(caps),
                "windows": [{"start": "2023-01-01", "end": end}],
                "execution": {"max_active_per_group": group_cap},
            }
            for group, (caps, group_cap) in GROUPS.items()
        ],
        "execution": execution,
    }
    path = tmp / f"bench-{windows}.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return load_plan(path)


def _facts() -> dict[JobIdentity, JobFactsEntry]:
    """What the pre-flight would have recorded: each job's MaxConcurrency."""
    return {
        JobIdentity("cn-hangzhou", "ns-1", None, group, job): JobFactsEntry(
            JobIdentity("cn-hangzhou", "ns-1", None, group, job),
            name=f"job-{job}",
            enabled=True,
            max_concurrency=cap,
            time_type=None,
            expression=None,
            calendar=None,
            data_offset=None,
            professional=True,
            checked_at=0.0,
        )
        for group, (caps, _) in GROUPS.items()
        for job, cap in caps.items()
    }


async def _makespan(days: int, *, capped: bool) -> tuple[float, dict[str, Any]]:
    clock = FakeClock(wall_start=START.timestamp())
    sim = Simulator(_config(), clock=clock)
    await sim.start("127.0.0.1", 0)
    with tempfile.TemporaryDirectory() as tmp:
        plan = _plan(Path(tmp), days, windows=capped)
        provider = StaticCredentialsProvider(Credentials("k", "s"))
        journal = MemoryJournal(clock=clock)
        async with SchedulerXClient(provider, endpoint=sim.url, clock=clock) as client:
            reconciler = Reconciler(client, timezone=plan.timezone, settle_seconds=0.0)
            neighbour = build_neighbour(plan, _facts(), clock, watch=True) if capped else None
            watcher = InstanceWatcher(
                reconciler, journal, plan, clock=clock, min_poll=30.0, max_poll=60.0
            )
            if neighbour is not None:
                neighbour.attach(watcher, None)
            sent = anyio.Event()
            async with anyio.create_task_group() as tg:
                if neighbour is not None:
                    tg.start_soon(watcher.run, sent)
                await run_plan(
                    plan,
                    client=client,
                    journal=journal,
                    reconciler=reconciler,
                    limiter=RateLimiter(RATE, clock=clock),
                    clock=clock,
                    capacity=neighbour.capacity if neighbour else None,
                    gates=neighbour.gates if neighbour else (),
                )
                sent.set()
    ends = [row["end_ms"] for row in sim.instances() if row["end_ms"] is not None]
    peaks = sim.peaks(trigger_type=2)
    await sim.stop()
    return max(ends) / 1000 - START.timestamp(), peaks


def _bound_hours(days: int) -> tuple[float, float]:
    """(W in hours of work, the elapsed bound in hours with the window)."""
    calls = sum(len(caps) for caps, _ in GROUPS.values()) * -(-days // 7)
    work = [calls / RATE]
    for caps, group_cap in GROUPS.values():
        work += [days * RUN / cap for cap in caps.values()]
        work.append(len(caps) * days * RUN / group_cap)
    w = max(work) / 3600
    needed, elapsed, step = w - RUN / 3600, 0.0, 1 / 3600
    open_hours = 0.0
    while open_hours < needed:
        hour = (START + timedelta(hours=elapsed)).hour
        if hour >= WINDOW[0] or hour < WINDOW[1]:
            open_hours += step
        elapsed += step
    return w, elapsed + RUN / 3600


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=60)
    args = parser.parse_args()
    w, bound = _bound_hours(args.days)
    capped, capped_peaks = asyncio.run(_makespan(args.days, capped=True))
    blind, blind_peaks = asyncio.run(_makespan(args.days, capped=False))
    print(f"plan: 10 jobs x {args.days} days, instances {RUN / 60:.0f} min, window 20:00-06:00")
    print(f"work bound W = {w:.2f} h; elapsed bound with the window = {bound:.2f} h")
    print(f"capped + windows: makespan {capped / 3600:.2f} h = {capped / 3600 / bound:.3f} x bound")
    print(
        f"blind (no caps, no windows): makespan {blind / 3600:.2f} h = {blind / 3600 / w:.3f} x W"
    )
    for name, peaks in (("capped", capped_peaks), ("blind", blind_peaks)):
        groups = {k.split("/")[-1]: v["active"] for k, v in peaks["groups"].items()}
        print(f"  {name} peak active per group: {groups}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
