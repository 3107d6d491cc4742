"""How much of the account's quota `run` uses, and how often it is throttled.

The simulator enforces a RerunJob quota as SchedulerX does (a token bucket per account,
burst of one second's worth). The real quota is 100/min; it is scaled to 10/s here so each
case takes about a minute instead of an hour (the limiter's arithmetic is the same at any
scale; the adaptive recovery time is 20 s either way). Three cases, each one run of
`run_plan` (SchedulerXClient, SQLite journal, the adaptive limiter) against a fresh
simulator:

1. rate = quota: the plan says 10/s;
2. rate = 2 x quota: the plan says 20/s, so the limiter has to find the quota itself;
3. another caller with the same AccessKey spends 3/s of it at a steady pace (it does
   not adapt); the plan says 10/s (the quota, as the default rate 100/min is the real
   quota), and the limiter has to find the 7/s left without crowding the other caller out.

Measured over the busy window, from our first answer to the last chunk's first answer
(after it only retries drain): our accepted calls as a share of what the quota allows in
that window (quota x window, plus the one call a window of n calls starts with; for case 3
minus what the other caller got in it), and throttled answers as a share of our attempts
over the whole run. The client never spends the server's burst (its limiter has none, on
purpose: the burst is shared with every other caller of the account), so the burst is not
counted as capacity.

    .venv/bin/python bench/bench_quota.py [--quota 10] [--seconds 60] [--case N]

Goals: (1) >= 98% accepted, <= 1% throttled; (2) >= 90%, <= 5%; (3) >= 85% of what is
left, <= 5%, and the other caller's calls throttled <= 1% (issue 13). The other caller's
share is also printed without our start-up (the first recovery time, 20 s, in which the
limiter descends from the quota to what is left): a backfill runs for hours, its start-up
once; ``--seconds 300`` shows the steady state.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import structlog
from _common import write_plan

from rerun_orchestrator.journal import SqliteJournal
from rerun_orchestrator.plan import Plan, load_plan
from rerun_orchestrator.run import AdaptiveLimiter, AttemptFinished, Reconciler, RunEvent, run_plan
from rerun_orchestrator.run._adaptive import RECOVERY_SECONDS
from rerun_orchestrator.schedulerx import (
    Credentials,
    RerunJobParams,
    SchedulerXClient,
    StaticCredentialsProvider,
    Verdict,
)
from rerun_orchestrator.simulator import (
    CredentialSpec,
    JobSpec,
    QuotaSpec,
    Simulator,
    SimulatorConfig,
)

KEY, SECRET = "quota-bench", "quota-bench-secret"
OTHER_JOB = 9999


@dataclass
class Outcome:
    accepted: int
    attempts: int
    throttled: int
    window: float
    other_accepted: int = 0  # in the window
    other_throttled: int = 0  # over the whole run...
    other_sent: int = 0  # ...of this many calls
    other_throttled_late: int = 0  # after our first recovery time (the start-up descent)
    other_sent_late: int = 0


def _plan(directory: Path, name: str, chunks: int, rate: float) -> Plan:
    jobs = 20
    path = write_plan(
        directory,
        name,
        jobs=jobs,
        days=-(-chunks // jobs),
        rate=f"{rate:g}/s",
        concurrency=4,
        max_attempts=6,
        first_day=date(2022, 1, 1),
    )
    return load_plan(path)


async def one_case(
    directory: Path, name: str, quota: float, rate: float, chunks: int, other: float
) -> Outcome:
    config = SimulatorConfig(
        credentials=(CredentialSpec(KEY, SECRET),),
        jobs=(
            JobSpec(
                "cn-hangzhou",
                "ns-1",
                "g1",
                ((1, 20), (OTHER_JOB, OTHER_JOB)),
                max_concurrency=100000,
            ),
        ),
        quota={"RerunJob": QuotaSpec(quota, max(1.0, quota)), "GetJobInstanceList": None},
        instance_wait_seconds=0.0,
        instance_run_seconds=0.0,
    )
    plan = _plan(directory, name, chunks, rate)
    provider = StaticCredentialsProvider(Credentials(KEY, SECRET))
    first_attempts: list[float] = []
    accepted_at: list[float] = []
    other_accepted_at: list[float] = []
    other_throttled = 0
    other_throttled_at: list[float] = []
    seen: set[str] = set()

    def on_event(event: RunEvent) -> None:
        if not isinstance(event, AttemptFinished):
            return
        now = time.monotonic()
        if event.chunk not in seen:
            seen.add(event.chunk)
            first_attempts.append(now)
        if event.outcome == "succeeded":
            accepted_at.append(now)

    async def other_caller(client: SchedulerXClient, stop: asyncio.Event) -> None:
        nonlocal other_throttled
        params = RerunJobParams(
            "cn-hangzhou", "ns-1", "g1", OTHER_JOB, 1640966400000, 1640966400000, "01:00:00"
        )
        next_at = time.monotonic()
        while not stop.is_set():
            next_at += 1 / other
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            result = await client.rerun_job(params)
            if result.verdict is Verdict.SUCCEEDED:
                other_accepted_at.append(time.monotonic())
            else:
                other_throttled += 1
                other_throttled_at.append(time.monotonic())

    async with Simulator(config) as sim:
        journal = SqliteJournal.open(
            directory / f"{name}.sqlite", plan_name=plan.name, plan_digest=plan.digest
        )
        stop_other = asyncio.Event()
        async with SchedulerXClient(provider, endpoint=sim.url) as client:
            other_task = asyncio.create_task(other_caller(client, stop_other)) if other else None
            try:
                result = await run_plan(
                    plan,
                    client=client,
                    journal=journal,
                    reconciler=Reconciler(client, timezone=plan.timezone, settle_seconds=1.0),
                    limiter=AdaptiveLimiter(plan.execution.rate),
                    on_event=on_event,
                )
            finally:
                stop_other.set()
                if other_task is not None:
                    await other_task
                journal.close()
    window_start, window_end = first_attempts[0], first_attempts[-1]
    settled = window_start + RECOVERY_SECONDS
    return Outcome(
        accepted=sum(t <= window_end for t in accepted_at),
        attempts=result.attempts,
        throttled=result.throttled,
        window=window_end - window_start,
        other_accepted=sum(window_start <= t <= window_end for t in other_accepted_at),
        other_throttled=other_throttled,
        other_sent=len(other_accepted_at) + other_throttled,
        other_throttled_late=sum(t >= settled for t in other_throttled_at),
        other_sent_late=sum(t >= settled for t in [*other_accepted_at, *other_throttled_at]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quota", type=float, default=10.0, help="calls per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each case")
    parser.add_argument("--other", type=float, default=3.0, help="the other caller's calls/s")
    parser.add_argument("--case", type=int, choices=(1, 2, 3), help="run only this case")
    args = parser.parse_args()
    # the run's events are counted through on_event; the log lines themselves are not needed
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    quota, seconds, other = args.quota, args.seconds, args.other
    burst = max(1.0, quota)
    cases = [
        ("rate = quota", quota, int(quota * seconds), 0.0, (0.98, 0.01)),
        ("rate = 2 x quota", 2 * quota, int(quota * seconds), 0.0, (0.90, 0.05)),
        (
            f"other caller at {other:g}/s",
            quota,
            int((quota - other) * seconds),
            other,
            (0.85, 0.05),
        ),
    ]
    print(
        f"simulated quota {quota:g}/s (SchedulerX's 100/min scaled up), burst {burst:g}, "
        f"~{seconds:g} s per case"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for index, (label, rate, chunks, other_rate, (share_goal, throttle_goal)) in enumerate(
            cases
        ):
            if args.case is not None and index + 1 != args.case:
                continue
            outcome = asyncio.run(
                one_case(Path(tmp), f"case{index}", quota, rate, chunks, other_rate)
            )
            capacity = quota * outcome.window + 1
            left = capacity - (outcome.other_accepted if other_rate else 0)
            share = outcome.accepted / left
            throttled = outcome.throttled / outcome.attempts
            ok = share >= share_goal and throttled <= throttle_goal
            extra = ""
            if other_rate:
                other_sent = outcome.other_sent
                other_share = outcome.other_throttled / max(1, other_sent)
                ok = ok and other_share <= 0.01
                extra = (
                    f"; other caller: {outcome.other_throttled} of {other_sent} calls "
                    f"throttled ({other_share:.1%}, goal <= 1%); after our first "
                    f"{RECOVERY_SECONDS:g} s: {outcome.other_throttled_late} of "
                    f"{outcome.other_sent_late} "
                    f"({outcome.other_throttled_late / max(1, outcome.other_sent_late):.1%})"
                )
            verdict = "ok" if ok else "MISSED"
            of = "what is left" if other_rate else "the quota"
            print(
                f"  {label:<24} accepted {share:6.1%} of {of} "
                f"(goal >= {share_goal:.0%}), throttled {throttled:5.1%} of {outcome.attempts} "
                f"attempts (goal <= {throttle_goal:.0%}) over {outcome.window:.0f} s  "
                f"[{verdict}]{extra}"
            )


if __name__ == "__main__":
    main()
