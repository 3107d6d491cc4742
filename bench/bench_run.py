"""Calls per second of `run` against a bare aiohttp loop, both on the simulator without quota.

The simulator (`rerun-orchestrator simulate`, every signature verified, instances kept)
runs in a child process with no quota. Both contestants send the plan's chunks as signed
RerunJob calls at the same concurrency:

- run: `run_plan` with everything the CLI uses: a `SqliteJournal` on disk (a durable
  in-flight mark before every call), `SchedulerXClient`, the adaptive limiter (ceiling far
  above what the machine can do), per-job streams, and the CLI's default log pipeline
  (readable lines on stderr, here /dev/null, and every event as a JSON line in the log
  file, on disk in the temporary directory);
- bare: an aiohttp session, `build_request` per call (fresh nonce and date), no journal,
  no logs, no pacing.

Rounds alternate between the two to cancel drift; medians are reported. The run's journal
is fresh each round. The `rerun-orchestrator run` CLI is timed once too (process start
included), for scale.

    .venv/bin/python bench/bench_run.py [--jobs 100] [--days 10] [--concurrency 64] [--rounds 3]

Goals (issue 13): with the FULL journal, calls/s >= 0.6 x the bare loop's (0.9 to aim for),
client CPU per call <= 1.3 x the bare loop's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import yaml
from _common import send_bare, write_plan

from rerun_orchestrator._logsetup import configure
from rerun_orchestrator.journal import Journal, MemoryJournal, SqliteJournal
from rerun_orchestrator.plan import Plan, load_plan
from rerun_orchestrator.run import AdaptiveLimiter, Reconciler, run_plan
from rerun_orchestrator.run._attempt import rerun_params
from rerun_orchestrator.schedulerx import (
    AiohttpTransport,
    Credentials,
    Endpoint,
    RerunJobParams,
    SchedulerXClient,
    StaticCredentialsProvider,
)

KEY, SECRET = "benchid", "benchsecret"


@contextlib.contextmanager
def simulator(directory: Path, jobs: int) -> Iterator[str]:
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
        "quota": {"RerunJob": None, "GetJobInstanceList": None},
        "default_quota": None,
    }
    path = directory / "simulator.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = subprocess.Popen(
        [sys.executable, "-m", "rerun_orchestrator", "simulate", "--config", str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def params_of(plan: Plan) -> list[RerunJobParams]:
    return [rerun_params(c) for c in plan.chunks()]


async def bare(url: str, calls: list[RerunJobParams], concurrency: int) -> float:
    credentials = Credentials(KEY, SECRET)
    endpoint = Endpoint.from_url(url)
    pending = iter(calls)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for params in pending:
                await send_bare(session, endpoint, credentials, params)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(calls) / (time.perf_counter() - started)


async def ours(url: str, plan: Plan, journal: Journal) -> float:
    provider = StaticCredentialsProvider(Credentials(KEY, SECRET))
    transport = AiohttpTransport(limit=plan.execution.concurrency)
    try:
        async with SchedulerXClient(provider, endpoint=url, transport=transport) as client:
            started = time.perf_counter()
            result = await run_plan(
                plan,
                client=client,
                journal=journal,
                reconciler=Reconciler(client, timezone=plan.timezone),
                limiter=AdaptiveLimiter(plan.execution.rate),
            )
            elapsed = time.perf_counter() - started
    finally:
        await transport.aclose()
        journal.close()
    if result.exit_code != 0 or result.attempts != result.counts.total:
        raise RuntimeError(f"run did not succeed cleanly: {result}")
    return result.counts.total / elapsed


def sqlite(path: Path, plan: Plan, synchronous: str) -> Journal:
    return SqliteJournal.open(
        path,
        plan_name=plan.name,
        plan_digest=plan.digest,
        synchronous=synchronous,  # type: ignore[arg-type]
    )


def cli_once(url: str, plan_path: Path, journal: Path, calls: int) -> float:
    env = {
        **os.environ,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
    }
    started = time.perf_counter()
    subprocess.run(
        [
            *(sys.executable, "-m", "rerun_orchestrator", "run", str(plan_path)),
            *(
                "--endpoint",
                url,
                "--journal",
                str(journal),
                "--log-format",
                "json",
                "--no-progress",
                "--no-preflight",  # the sending path; bench_preflight measures the check
                "--no-watch",  # nor the instances after it: bench_watch does
                # nor the look-back for days sent before (100 jobs at the read rate,
                # 100/min, is a minute of GetJobInstanceList before the first RerunJob)
                *("--lookback", "0"),
            ),
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return calls / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, open(os.devnull, "w") as devnull:
        directory = Path(tmp)
        # the CLI's default log pipeline; stderr goes to /dev/null below
        configure("console", log_file=directory / "run.log.jsonl")
        with simulator(directory, args.jobs) as url:
            plan_path = write_plan(
                directory,
                "bench",
                jobs=args.jobs,
                days=args.days,
                rate="100000/s",
                concurrency=args.concurrency,
                max_attempts=3,
            )
            plan = load_plan(plan_path)
            calls = params_of(plan)
            contestants = {
                "run, SQLite journal (FULL, the CLI's)": lambda n: sqlite(
                    directory / f"full{n}.sqlite", plan, "FULL"
                ),
                "run, SQLite journal (NORMAL)": lambda n: sqlite(
                    directory / f"normal{n}.sqlite", plan, "NORMAL"
                ),
                "run, MemoryJournal": lambda n: MemoryJournal(),
            }
            rates: dict[str, list[float]] = {name: [] for name in ["bare", *contestants]}
            cpu: dict[str, list[float]] = {name: [] for name in rates}
            asyncio.run(bare(url, calls[: min(300, len(calls))], args.concurrency))  # warm up
            for round_no in range(args.rounds):
                started = time.process_time()
                rates["bare"].append(asyncio.run(bare(url, calls, args.concurrency)))
                cpu["bare"].append((time.process_time() - started) / len(calls))
                for name, journal in contestants.items():
                    started = time.process_time()
                    with contextlib.redirect_stderr(devnull):
                        rate = asyncio.run(ours(url, plan, journal(round_no)))
                    rates[name].append(rate)
                    cpu[name].append((time.process_time() - started) / len(calls))
            cli = cli_once(url, plan_path, directory / "cli.sqlite", len(calls))
    bare_rate = statistics.median(rates["bare"])
    bare_cpu = statistics.median(cpu["bare"])
    print(
        f"calls={len(calls)} ({args.jobs} jobs x {args.days} days) concurrency={args.concurrency} "
        f"rounds={args.rounds} (simulator in a child process, no quota, medians)"
    )
    for name, values in rates.items():
        label = "bare aiohttp loop" if name == "bare" else name
        rate = statistics.median(values)
        per_call = statistics.median(cpu[name])
        print(
            f"  {label:<38} {rate:7.0f} calls/s  ratio {rate / bare_rate:5.3f}  "
            f"client CPU {per_call * 1e6:4.0f} us/call ({per_call / bare_cpu:4.2f}x the bare's)  "
            f"rounds {[round(r) for r in values]}"
        )
    print(
        f"  {'`rerun-orchestrator run` (CLI, FULL)':<38} {cli:7.0f} calls/s  ratio "
        f"{cli / bare_rate:5.3f}  (one run, process start included)"
    )
    full = "run, SQLite journal (FULL, the CLI's)"
    full_rate = statistics.median(rates[full]) / bare_rate
    full_cpu = statistics.median(cpu[full]) / bare_cpu
    verdict = "ok" if full_rate >= 0.6 and full_cpu <= 1.3 else "MISSED"
    print(
        f"FULL journal: {full_rate:.3f} x the bare loop's calls/s (goal >= 0.6, aim 0.9), "
        f"{full_cpu:.2f} x its client CPU per call (goal <= 1.3)  [{verdict}]\n"
        "Every run line logs its events (JSON lines in the log file); the SQLite lines also\n"
        "make a durable in-flight mark before every call (FULL: an fsync each). On a busy\n"
        "machine calls/s swing; the client-CPU ratio is steadier."
    )


if __name__ == "__main__":
    main()
