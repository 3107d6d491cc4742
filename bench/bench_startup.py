"""Start-up of the commands that need no network, against ``python -c pass``.

`status`, `validate`, `plan` and `schema` are what a person types while waiting for a
backfill; none of them sends anything, so none should pay for aiohttp, the credential
chain or the simulator. Each command is run `--repeat` times in a fresh process (the
interpreter of this venv, ``-m rerun_orchestrator``) and the median wall time is compared
with the median of ``python -c pass``. `status` reads a 39-chunk journal made by a
simulated run of plans/demo.yaml (made before timing). Also printed: which heavy modules
each command imported (``-X importtime``), and the floor: a bare interpreter importing only
the stdlib and PyYAML modules the plan commands cannot do without (argparse, dataclasses,
PyYAML, zoneinfo), which no change to this package can go under.

The package is byte-compiled first (``compileall``), as a wheel install leaves it: with
``PYTHONDONTWRITEBYTECODE`` set (some CI and container images set it) an editable
checkout would otherwise compile every module on every start, and that is not start-up.

    .venv/bin/python bench/bench_startup.py [--repeat 7]

Goal (issue 13): every command within 3 x ``python -c pass``.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "plans" / "demo.yaml"
HEAVY = ("aiohttp", "structlog", "rich", "anyio", "yarl", "alibabacloud_credentials")
FLOOR = "import argparse, dataclasses, yaml, zoneinfo"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(commands: dict[str, list[str]], repeat: int) -> dict[str, tuple[float, float]]:
    """Median wall time and median CPU time (user + system) of each command, run in rounds
    (one of each per round) so that load from other work on the machine falls on all of
    them alike. CPU time stays steadier than wall time when the machine is shared."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, args in commands.items():
            cpu, started = _children_cpu(), time.perf_counter()
            subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[name].append((time.perf_counter() - started, _children_cpu() - cpu))
    return {
        name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
        for name, values in times.items()
    }


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
    subprocess.run(
        [python, "-m", "compileall", "-q", str(ROOT / "rerun_orchestrator")],
        check=True,
        stdout=subprocess.DEVNULL,
    )
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
        took = timed(
            {"pass": [python, "-c", "pass"], "floor": [python, "-c", FLOOR], **commands},
            args.repeat,
        )
        base_wall, base_cpu = took["pass"]
        print(
            f"python -c pass: {base_wall * 1000:.0f} ms wall, {base_cpu * 1000:.0f} ms CPU "
            f"(medians of {args.repeat}, in rounds); ratios by wall time, then by CPU time"
        )
        for name in ("floor", *commands):
            wall, cpu = took[name]
            ratio = wall / base_wall
            if name == "floor":
                print(
                    f"  floor     {wall * 1000:5.0f} ms  {ratio:4.1f} x  "
                    f"{cpu / base_cpu:4.1f} x CPU  (python -c {FLOOR!r}: "
                    "what validate and plan cannot go under)"
                )
                continue
            heavy = heavy_imports(commands[name])
            print(
                f"  {name:<9} {wall * 1000:5.0f} ms  {ratio:4.1f} x  {cpu / base_cpu:4.1f} x CPU  "
                f"(goal <= 3)  [{'ok' if ratio <= 3 else 'MISSED'}]  "
                f"heavy imports: {', '.join(heavy) or 'none'}"
            )


if __name__ == "__main__":
    main()
