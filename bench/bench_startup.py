"""Start-up of the commands that need no network, against ``python -c pass``.

`status`, `validate`, `plan` and `schema` are what a person types while waiting for a
backfill; none of them sends anything, so none should pay for aiohttp, the credential
chain or the simulator. Each command is run `--repeat` times in a fresh process (the
interpreter of this venv, ``-m rerun_orchestrator``) and the median wall time is compared
with the median of ``python -c pass``. `status` reads a 39-chunk journal made by a
simulated run of plans/demo.yaml (made before timing). Also printed: which heavy modules
each command imported (``-X importtime``).

    .venv/bin/python bench/bench_startup.py [--repeat 7]

Goal (issue 13): every command within 3 x ``python -c pass``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "plans" / "demo.yaml"
HEAVY = ("aiohttp", "structlog", "rich", "anyio", "yarl", "alibabacloud_credentials")


def timed(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def heavy_imports(args: list[str]) -> list[str]:
    done = subprocess.run(
        [args[0], "-X", "importtime", *args[1:]], capture_output=True, text=True, check=True
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    return [name for name in HEAVY if name in imported]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "demo.sqlite"
        demo_run = ["run", str(DEMO), "--simulate", "--journal", str(journal), "--no-progress"]
        subprocess.run(
            [python, "-m", "rerun_orchestrator", *demo_run],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        cli = [python, "-m", "rerun_orchestrator"]
        commands = {
            "status": [*cli, "status", "--journal", str(journal)],
            "validate": [*cli, "validate", str(DEMO)],
            "plan": [*cli, "plan", str(DEMO)],
            "schema": [*cli, "schema"],
        }
        baseline = timed([python, "-c", "pass"], args.repeat)
        print(f"python -c pass: {baseline * 1000:.0f} ms (median of {args.repeat})")
        for name, command in commands.items():
            took = timed(command, args.repeat)
            ratio = took / baseline
            heavy = heavy_imports(command)
            print(
                f"  {name:<9} {took * 1000:5.0f} ms  {ratio:4.1f} x python -c pass "
                f"(goal <= 3)  [{'ok' if ratio <= 3 else 'MISSED'}]  "
                f"heavy imports: {', '.join(heavy) or 'none'}"
            )


if __name__ == "__main__":
    main()
