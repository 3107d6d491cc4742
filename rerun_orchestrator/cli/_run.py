"""`run PLAN`: its options; the wiring is `cli/_run_command.py`."""

from __future__ import annotations

import argparse

from . import _option_types as types
from ._parser import Parser, UsageError, add_connection, add_max_chunks


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    run = commands.add_parser("run", help="execute a plan")
    run.add_argument("plan", metavar="PLAN")
    add_connection(
        run,
        timeout_help="seconds an attempt may take, 0.1 to 3600 (default 35); a RerunJob "
        "abandoned after it was sent is checked with GetJobInstanceList, never resent blindly",
    )
    run.add_argument(
        "--journal",
        help="SQLite journal path or postgresql:// URL (default: $RERUN_ORCHESTRATOR_JOURNAL, else "
        "$RERUN_ORCHESTRATOR_HOME/<plan name>.sqlite; see docs/journal.md)",
    )
    run.add_argument("--journal-sync", choices=("full", "normal"), default="full", help="see docs")
    run.add_argument("--report", help="write a JSON report here at the end")
    run.add_argument("--log-format", choices=("json", "console"), default="console")
    run.add_argument(
        "--rate", type=types.rate, help="override the plan's rate, e.g. 100/min or 1.5/s"
    )
    run.add_argument(
        "--concurrency", type=types.count("concurrency"), help="override the plan's concurrency"
    )
    run.add_argument(
        "--retry-failed",
        action="store_true",
        help="also resend chunks that failed permanently, and retry failed or rejected "
        "instances in place (RetryJobInstance)",
    )
    run.add_argument(
        "--lookback",
        default="7d",
        metavar="DURATION",
        help="before sending days the journal never saw, ask the server for reruns of them "
        "scheduled within this long (e.g. 7d, 36h; 0 asks nothing; default 7d)",
    )
    run.add_argument(
        "--rerun-succeeded",
        action="store_true",
        help="rerun days already covered (by the journal or found on the server) once more",
    )
    run.add_argument("--no-progress", action="store_true", help="no live progress display")
    _add_watch_options(run)
    run.add_argument(
        "--no-preflight",
        action="store_true",
        help="skip asking GetJobInfo about every job before the first RerunJob",
    )
    run.add_argument(
        "--stall-timeout",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="stop (exit 1, chunks pending) once no chunk has settled for this long "
        "(default 1800: 30 min); transient trouble never fails a chunk",
    )
    run.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="console: also log every successful attempt and instance query",
    )
    run.add_argument(
        "--log-file", help="append every event as JSON lines here (default: <journal>.log.jsonl)"
    )
    add_max_chunks(run)
    run.add_argument(
        "--simulate-quota",
        metavar="RATE",
        type=types.rate,
        help="with --simulate: the simulator's RerunJob quota (default: the plan's rate)",
    )
    # For tests and experiments: how long reconciliation waits for a doubtful call's
    # instances to appear, and the pace of its GetJobInstanceList queries.
    run.add_argument(
        "--settle-seconds", type=types.seconds(minimum=0.0), default=10.0, help=argparse.SUPPRESS
    )
    # ... and how far behind ours the server's clock may be (5 minutes; a test's simulator
    # shares our clock, so that a deliberate rerun need not wait that long after the first).
    run.add_argument(
        "--clock-skew", type=types.seconds(minimum=0.0), default=300.0, help=argparse.SUPPRESS
    )
    _add_neighbour_options(run)


def _add_neighbour_options(run: argparse.ArgumentParser) -> None:
    """`run`'s options on how it shares the account and the workers."""
    run.add_argument(
        "--read-rate",
        type=types.rate,
        default=None,
        help="pace of each read API per account (default: the plan's read_rate, 100/min)",
    )
    run.add_argument(
        "--ignore-windows",
        action="store_true",
        help="send outside the plan's execution.windows (for a person who knows)",
    )


def _add_watch_options(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--no-watch",
        action="store_true",
        help="return once the calls are accepted, without watching the rerun instances",
    )
    run.add_argument("--watch-poll", type=float, default=None, help=argparse.SUPPRESS)
    run.add_argument("--appear-seconds", type=float, default=600.0, help=argparse.SUPPRESS)


def check_combinations(prog: str, args: argparse.Namespace) -> None:
    """Options that mean nothing without another one are refused, not ignored."""
    if args.simulate_quota and not args.simulate:
        raise UsageError(
            f"{prog} run: --simulate-quota is the quota of the built-in simulator:"
            " it needs --simulate"
        )


def command(args: argparse.Namespace) -> int:
    from ._run_command import main  # noqa: PLC0415 keep validate/plan fast

    return main(args)
