"""Many replicas, one backfill: chunks/s and quota precision with a PostgreSQL journal
(1 and 3 `run` processes), as ratios to one run on a SQLite journal.

Every case runs real `rerun-orchestrator run` processes against one `simulate` process
on 127.0.0.1 and reads the simulator's own record of RerunJob arrivals:
  unpaced   plan and simulator at 10000/s: chunks/s = chunks / (last - first arrival)
  paced     plan and simulator at RATE/s: precision = achieved rate / plan rate, and the
            most arrivals seen in any one second (the bound is rate + burst of 1)

Run: .venv/bin/python bench/bench_replicas.py   (about 40 s; needs PostgreSQL's server
programs, as the tests do)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg
import yaml

from rerun_orchestrator._pg_server import ThrowawayServer

JOBS, DAYS = 10, 30  # 300 chunks of one day
RATE = 20  # per second, paced cases
PACED_DAYS = 10  # 100 chunks paced: 5 s
SIM_ARGS = ("--port", "0", "--config")
KEY = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "benchid", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "benchsecret"}


def simulator(tmp: Path, quota: str) -> tuple[subprocess.Popen[bytes], str]:
    config = {
        "server_timezone": "Asia/Shanghai",
        "credentials": [{"access_key_id": "benchid", "access_key_secret": "benchsecret"}],
        "jobs": [
            {
                "region": "cn-hangzhou",
                "namespace": "ns-1",
                "group": "g1",
                "job_ids": [f"1-{JOBS}"],
                "max_concurrency": 1000,
            }
        ],
        "quota": {"RerunJob": quota, "GetJobInstanceList": "10000/s"},
        "instance_wait_seconds": 0,
        "instance_run_seconds": 0,
    }
    path = tmp / f"sim-{time.monotonic_ns()}.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp / (path.name + ".out")
    with out.open("wb") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rerun_orchestrator", "simulate", *SIM_ARGS, str(path)],
            stdout=stdout,
            stderr=subprocess.DEVNULL,
        )
    for _ in range(600):
        first = out.read_text().partition("\n")
        if first[1]:
            return proc, first[0].strip()
        time.sleep(0.02)
    proc.kill()
    raise RuntimeError("simulator did not start")


def write_plan(tmp: Path, days: int, rate: str) -> Path:
    plan = {
        "version": 1,
        "name": f"bench-{time.monotonic_ns()}",
        "timezone": "Asia/Shanghai",
        "region": "cn-hangzhou",
        "namespace": "ns-1",
        "group": "g1",
        "data_time": "10:00:00",
        "chunk_days": 1,
        "targets": [
            {"jobs": [f"1-{JOBS}"], "windows": [{"start": "2024-01-01", "end": _end(days)}]}
        ],
        "execution": {"rate": rate, "concurrency": 8},
    }
    path = tmp / f"{plan['name']}.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def _end(days: int) -> str:
    return f"2024-01-{days:02d}"


def arrivals(url: str) -> list[float]:
    with urllib.request.urlopen(url + "/_simulator/requests", timeout=10) as response:
        rows = json.loads(response.read())
    return sorted(r["at"] for r in rows if r["action"] == "RerunJob")


def most_in_a_second(times: list[float]) -> int:
    most, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= 1.0:
            lo += 1
        most = max(most, hi - lo + 1)
    return most


def case(tmp: Path, journal: str, replicas: int, *, paced: bool) -> tuple[float, int, int]:
    """(chunks or calls per second, arrivals, most in a second)."""
    sim, url = simulator(tmp, f"{RATE}/s" if paced else "10000/s")
    try:
        plan = write_plan(tmp, PACED_DAYS if paced else DAYS, f"{RATE}/s" if paced else "10000/s")
        args = [sys.executable, "-m", "rerun_orchestrator", "run", str(plan), "--endpoint", url]
        args += ["--journal", journal, "--no-progress", "--lookback", "0"]
        env = {**os.environ, **KEY, "RERUN_ORCHESTRATOR_HOME": str(tmp / "home")}
        procs = [
            subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(replicas)
        ]
        codes = [p.wait(timeout=120) for p in procs]
        if any(codes):
            raise RuntimeError(f"a run failed: exit codes {codes}")
        times = arrivals(url)
    finally:
        sim.kill()
        sim.wait()
    span = times[-1] - times[0]
    return (
        (len(times) - 1) / span if span > 0 else float("inf"),
        len(times),
        most_in_a_second(times),
    )


def fresh_schema(server: ThrowawayServer, name: str) -> str:
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    return f"{server.url}?options=-csearch_path%3D{name}"


def main() -> None:
    server = ThrowawayServer.create()
    server.start()
    try:
        with tempfile.TemporaryDirectory() as directory:
            tmp = Path(directory)
            rows = []
            for paced in (False, True):
                label = "paced" if paced else "unpaced"
                lite = case(tmp, str(tmp / f"{label}.sqlite"), 1, paced=paced)
                one = case(tmp, fresh_schema(server, f"{label}_1"), 1, paced=paced)
                three = case(tmp, fresh_schema(server, f"{label}_3"), 3, paced=paced)
                rows.append((label, lite, one, three))
    finally:
        server.remove()
    for label, lite, one, three in rows:
        if label == "unpaced":
            print(f"unpaced chunks/s   sqlite x1 {lite[0]:7.1f}   postgres x1 {one[0]:7.1f} "
                  f"({one[0] / lite[0]:.2f}x)   postgres x3 {three[0]:7.1f} "
                  f"({three[0] / lite[0]:.2f}x)")  # fmt: skip
        else:

            def precision(r: tuple[float, int, int]) -> str:
                return f"{r[0] / RATE:.3f} of {RATE}/s, max {r[2]}/s"

            print(f"paced precision    sqlite x1 {precision(lite)}   postgres x1 {precision(one)} "
                  f"({one[0] / lite[0]:.2f}x)   postgres x3 {precision(three)} "
                  f"({three[0] / lite[0]:.2f}x)")  # fmt: skip
    print(f"(paced: bound {RATE + 1}/s in any second; x3 = three replicas sharing the quota)")


if __name__ == "__main__":
    main()
