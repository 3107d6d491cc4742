"""Client CPU per call of `run` against a bare aiohttp loop, counted in instructions.

`bench_run.py` times both on a shared machine, where CPU per call swings by 2x from one
round to the next. Here each contestant runs under valgrind's callgrind, which counts the
instructions the client executes: the same count for the same work whatever else the
machine is doing. The simulator (no quota) runs outside valgrind, in its own process.

Each contestant is counted at two sizes, and the difference divided by the difference in
calls, so that start-up (imports, the journal's creation) cancels out:

- bare: an aiohttp session, `build_request` per call, no journal, no logs, no pacing;
- run: `run_plan` as `bench_run.py` drives it (SchedulerXClient, the adaptive limiter,
  per-job streams, the CLI's log pipeline: console lines to /dev/null and every event as
  a JSON line in a log file), with the SQLite journal (FULL, the CLI's; NORMAL) and with
  the MemoryJournal.

    .venv/bin/python bench/bench_instructions.py [--small 100] [--large 300]

Goal (issue 13): client CPU per call <= 1.3 x the bare loop's, with the FULL journal.
Needs valgrind (about a minute per count).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import write_plan
from bench_run import bare, ours, params_of, simulator, sqlite

from rerun_orchestrator._logsetup import close_log_file, configure
from rerun_orchestrator.journal import Journal, MemoryJournal
from rerun_orchestrator.plan import load_plan

DAYS = 10
CONCURRENCY = 64
CONTESTANTS = ("bare", "run FULL", "run NORMAL", "run MemoryJournal")


def child(mode: str, calls: int, url: str, directory: Path) -> None:
    """One contest, in the process valgrind counts."""
    plan = load_plan(
        write_plan(
            directory,
            "instructions",
            jobs=calls // DAYS,
            days=DAYS,
            rate="100000/s",
            concurrency=CONCURRENCY,
            max_attempts=3,
        )
    )
    if mode == "bare":
        asyncio.run(bare(url, params_of(plan), CONCURRENCY))
        return
    configure("console", log_file=directory / "run.log.jsonl")
    journal: Journal
    if mode == "run MemoryJournal":
        journal = MemoryJournal()
    else:
        journal = sqlite(directory / "journal.sqlite", plan, mode.removeprefix("run "))
    with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
        asyncio.run(ours(url, plan, journal))
    close_log_file()


def count(mode: str, calls: int, url: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        done = subprocess.run(
            [
                *("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"),
                *(sys.executable, __file__, "--child", mode, str(calls), url, tmp),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from callgrind: {done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=100, help="calls of the first count")
    parser.add_argument("--large", type=int, default=300, help="calls of the second count")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, calls, url, directory = args.child
        child(mode, int(calls), url, Path(directory))
        return
    if shutil.which("valgrind") is None:  # `make bench` goes on to the next script
        print("bench_instructions: skipped, valgrind is not installed (apt-get install valgrind)")
        return
    per_call: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, simulator(Path(tmp), args.large // DAYS) as url:
        for mode in CONTESTANTS:
            small, large = count(mode, args.small, url), count(mode, args.large, url)
            per_call[mode] = (large - small) / (args.large - args.small)
            print(f"  {mode:<20} {per_call[mode] / 1000:8.0f} k instructions per call", flush=True)
    base = per_call["bare"]
    print(
        f"client instructions per call, {args.small} and {args.large} calls at concurrency "
        f"{CONCURRENCY}, simulator without quota (outside valgrind):"
    )
    for mode in CONTESTANTS:
        print(f"  {mode:<20} {per_call[mode] / base:5.2f} x the bare loop's")
    ratio = per_call["run FULL"] / base
    verdict = "met" if ratio <= 1.3 else "MISSED"
    print(
        f"FULL journal: {ratio:.2f} x the bare loop's instructions per call "
        f"(goal <= 1.3) [{verdict}]"
    )


if __name__ == "__main__":
    main()
