"""How much of the quota `run --rate <quota>` uses, next to a naive loop over the official SDK.

Two contestants, side by side in the same run, each against its own simulator process with
the quotas scaled up (default 20/s, as if 100/min were 20/s; burst one second's worth, as
the simulator's default). Both APIs are scaled: RerunJob's and GetJobInstanceList's quotas
are both 100/min for real, so ours reads at ``--read-rate`` = the quota too. Left at the
real 100/min, the lost-journal guard's two look-ups per job (0.6 s each, first-come
first-served with the other jobs' and the watcher's) held the sends up for 3-4 s of a 25 s
run: a loss of 12% the real quotas do not have (a job of 25 days takes 15 s to send there,
its look-ups 1.2 s).

- ours: the real CLI, ``rerun-orchestrator run plan.yaml --endpoint ... --read-rate
  <quota>`` in a child process, with the plan's rate = the quota (journal, log file,
  pre-flight, lost-journal guard, watcher and adaptive limiter on);
- naive: the loop a good engineer writes on the official SDK (alibabacloud-schedulerx
  220190430, ``rerun_job_async``): a task per call started on a fixed schedule of
  ``1/rate`` steps (so a late wake-up is made up for at the next step), a throttled call
  resent one second later; in a child process too.

Each sends the same number of distinct (job, day) reruns. The accepted share of a
contestant is its accepted calls over what the quota allows between its first and last
accepted call (``1 + quota x span``), measured from its own answers; throttles come from
its simulator's counters. Two conditions: quiet, and with a CPU-burning neighbour process
for the whole case. The goal (issue 13): ours >= 0.99 x naive in both, 0 throttles.

Spread over many jobs of one day each (``--jobs 250 --calls 250``) the guard's look-ups
(for days a fresh journal has never seen) set the pace: two per job measured 0.45x the SDK
loop's share; one per job once the watcher has learned the server's reading, 0.84x.

    .venv/bin/python bench/bench_pace.py [--quota 20] [--calls 500] [--concurrency 8]
        [--jobs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from _common import write_plan

KEY, SECRET = "pace-bench", "pace-bench-secret"
JOBS = 20  # the default; --jobs changes it (days per job = calls / jobs)
FIRST_DAY_MS = 1_640_966_400_000  # 2022-01-01 00:00 +08:00, the plan's first day
Popen = subprocess.Popen[bytes]


@dataclass
class Side:
    accepted_at: list[float]
    throttled: int

    def share(self, quota: float) -> float:
        times = sorted(self.accepted_at)
        return len(times) / (1 + quota * (times[-1] - times[0]))


def simulator_config(directory: Path, quota: float, jobs: int) -> Path:
    config = {
        "credentials": [{"access_key_id": KEY, "access_key_secret": SECRET}],
        "jobs": [
            {
                "region": "cn-hangzhou",
                "namespace": "ns-1",
                "group": "g1",
                "job_ids": [f"1-{jobs}"],
                "max_concurrency": 100000,
            }
        ],
        # every API scaled alike (pre-flight's GetJobInfo and ListGroups take the default)
        "quota": {"RerunJob": f"{quota:g}/s", "GetJobInstanceList": f"{quota:g}/s"},
        "default_quota": f"{quota:g}/s",
        "instance_wait_seconds": 0.0,
        "instance_run_seconds": 0.0,
    }
    path = directory / "simulator.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_simulator(config: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "rerun_orchestrator", "simulate", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def throttled_on(url: str) -> int:
    with urllib.request.urlopen(f"{url}/_simulator/counters") as answer:
        counters = json.loads(answer.read())
    return int(counters.get("RerunJob", {}).get("throttled", 0))


def start_ours(
    directory: Path, url: str, quota: float, calls: int, concurrency: int, jobs: int
) -> Popen:
    plan = write_plan(
        directory,
        "pace",
        jobs=jobs,
        days=-(-calls // jobs),
        rate=f"{quota:g}/s",
        concurrency=concurrency,
        max_attempts=6,
        first_day=datetime.fromtimestamp(FIRST_DAY_MS / 1000, UTC).date(),
    )
    env = {
        **os.environ,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
    }
    command = [sys.executable, "-m", "rerun_orchestrator", "run", str(plan), "--endpoint", url]
    command += ["--read-rate", f"{quota:g}/s"]  # scaled like RerunJob's (docstring)
    command += ["--journal", str(directory / "pace.sqlite"), "--no-progress"]
    command += ["--log-file", str(directory / "pace.log.jsonl"), "--log-format", "json"]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=directory
    )


def ours_accepted(directory: Path) -> list[float]:
    times = []
    with (directory / "pace.log.jsonl").open() as log:
        for line in log:
            event = json.loads(line)
            if event.get("event") == "rerun.attempt" and event.get("outcome") == "succeeded":
                times.append(datetime.fromisoformat(event["timestamp"]).timestamp())
    return times


def start_naive(url: str, quota: float, calls: int, jobs: int, out: Path) -> Popen:
    command = [sys.executable, __file__, "--naive", url, "--quota", str(quota)]
    command += ["--calls", str(calls), "--jobs", str(jobs), "--out", str(out)]
    return subprocess.Popen(command)


async def naive_loop(url: str, rate: float, calls: int, jobs: int) -> list[float]:
    """The rival: the official SDK's async call, started on a fixed schedule."""
    # The SDK is a dev dependency, used only by benches and tests.
    from alibabacloud_schedulerx220190430 import models  # noqa: PLC0415
    from alibabacloud_schedulerx220190430.client import Client  # noqa: PLC0415
    from alibabacloud_tea_openapi.exceptions import (  # noqa: PLC0415
        AlibabaCloudException,
        ThrottlingException,
    )
    from alibabacloud_tea_openapi.models import Config  # noqa: PLC0415

    client = Client(
        Config(
            access_key_id=KEY,
            access_key_secret=SECRET,
            endpoint=url.removeprefix("http://"),
            protocol="HTTP",
            region_id="cn-hangzhou",
        )
    )
    accepted: list[float] = []

    async def send(index: int) -> None:
        day_ms = FIRST_DAY_MS + (index // jobs) * 86_400_000
        request = models.RerunJobRequest(
            region_id="cn-hangzhou",
            namespace="ns-1",
            group_id="g1",
            job_id=index % jobs + 1,
            start_date=day_ms,
            end_date=day_ms,
            data_time="10:00:00",
        )
        while True:
            try:
                response = await client.rerun_job_async(request)
            except ThrottlingException:
                await asyncio.sleep(1.0)
                continue
            except AlibabaCloudException as exc:
                # a throttle the SDK does not map to ThrottlingException (Throttling.User, 400)
                if not str(exc.code or "").startswith("Throttling"):
                    raise
                await asyncio.sleep(1.0)
                continue
            if response.body.success:
                accepted.append(time.time())
            return

    tasks = []
    next_at = time.monotonic()
    for index in range(calls):
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        tasks.append(asyncio.create_task(send(index)))
        next_at += 1 / rate
    await asyncio.gather(*tasks)
    return accepted


def one_case(
    directory: Path, quota: float, calls: int, concurrency: int, loaded: bool, jobs: int = JOBS
) -> dict[str, Side]:
    config = simulator_config(directory, quota, jobs)
    servers = [start_simulator(config) for _ in range(2)]
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if loaded else None
    try:
        ours_dir = directory / "ours"
        ours_dir.mkdir()
        naive_out = directory / "naive.json"
        children = [
            start_ours(ours_dir, servers[0][1], quota, calls, concurrency, jobs),
            start_naive(servers[1][1], quota, calls, jobs, naive_out),
        ]
        for child in children:
            child.wait(timeout=max(120.0, 4 * calls / quota))
        ours = Side(ours_accepted(ours_dir), throttled_on(servers[0][1]))
        naive = Side(json.loads(naive_out.read_text()), throttled_on(servers[1][1]))
    finally:
        if burner is not None:
            burner.kill()
            burner.wait()
        for process, _ in servers:
            process.terminate()
            process.wait(timeout=10)
    return {"ours": ours, "naive": naive}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quota", type=float, default=20.0, help="calls per second")
    parser.add_argument("--calls", type=int, default=500, help="calls per contestant and case")
    parser.add_argument("--concurrency", type=int, default=8, help="ours: the plan's concurrency")
    parser.add_argument("--jobs", type=int, default=JOBS, help="jobs the calls are spread over")
    parser.add_argument("--naive", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive:
        accepted = asyncio.run(naive_loop(args.naive, args.quota, args.calls, args.jobs))
        Path(args.out).write_text(json.dumps(accepted))
        return
    print(
        f"quota {args.quota:g}/s (burst {max(1.0, args.quota):g}), {args.calls} calls each, "
        f"over {args.jobs} jobs, ours at --rate = quota, concurrency {args.concurrency}; "
        "side by side"
    )
    for label, loaded in (("quiet", False), ("CPU-burning neighbour", True)):
        with tempfile.TemporaryDirectory() as tmp:
            sides = one_case(Path(tmp), args.quota, args.calls, args.concurrency, loaded, args.jobs)
        ours, naive = sides["ours"], sides["naive"]
        ratio = ours.share(args.quota) / naive.share(args.quota)
        verdict = "ok" if ratio >= 0.99 and ours.throttled == 0 else "MISSED"
        print(
            f"  {label:<22} ours {ours.share(args.quota):6.1%} of the quota "
            f"({len(ours.accepted_at)} accepted, {ours.throttled} throttled), "
            f"naive SDK loop {naive.share(args.quota):6.1%} ({len(naive.accepted_at)}, "
            f"{naive.throttled} throttled): ratio {ratio:.3f} (goal >= 0.99, 0 throttles) "
            f"[{verdict}]"
        )


if __name__ == "__main__":
    main()
