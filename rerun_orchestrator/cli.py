"""The command line: parse arguments, call the library, map outcomes to exit codes.

Nothing else lives here. Heavy imports happen inside each command so that `validate`
stays fast and never loads the HTTP stack.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from . import __version__
from . import _options as types

EXIT_OK = 0
EXIT_INCOMPLETE = 1  # run finished, some chunks failed or unknown
EXIT_USAGE = 2  # usage, plan or credential error; nothing sent
EXIT_INTERRUPTED = 130  # graceful stop on SIGINT/SIGTERM


class _UsageError(Exception):
    """A command line argparse refused: one line, exit 2, nothing opened or sent."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a refusal is one line naming the command (no usage dump, no exit)."""

    def error(self, message: str) -> NoReturn:
        # Arguments are quoted in the message; a newline or a control in one stays visible
        # and the refusal stays one line.
        shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
        raise _UsageError(f"{self.prog}: {shown} (see {self.prog} --help)")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rerun-orchestrator",
        description="Run large historical backfills on Alibaba Cloud SchedulerX.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check plans without sending anything")
    validate.add_argument("plans", nargs="+", metavar="PLAN")
    validate.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="text: PATH:LINE:COL lines on stderr; json: one document on stdout; github: "
        "workflow commands (annotations) on stdout",
    )
    validate.add_argument("--strict", action="store_true", help="warnings fail too (exit 2)")
    validate.add_argument(
        "--alone",
        action="store_true",
        help="check each plan alone, not the days two of them plan (plans that share a journal)",
    )
    validate.add_argument("--max-chunks", type=_MAX_CHUNKS, help="refuse larger plans")

    plan = commands.add_parser("plan", help="dry run: show what would be sent")
    plan.add_argument("plan", metavar="PLAN")
    plan.add_argument(
        "--format",
        choices=("table", "jsonl", "json"),
        default="table",
        help="table: a summary; jsonl: one object per chunk; json: counts, per-target totals "
        "and the ETA as one object",
    )
    plan.add_argument("--max-chunks", type=_MAX_CHUNKS, help="refuse larger plans")

    commands.add_parser("schema", help="print the JSON Schema of the plan format")

    _add_check(commands)

    run = commands.add_parser("run", help="execute a plan")
    run.add_argument("plan", metavar="PLAN")
    run.add_argument(
        "--endpoint",
        type=types.endpoint,
        help="override the regional endpoint (http:// only to loopback; HOST:PORT of a "
        "loopback host means http://HOST:PORT)",
    )
    run.add_argument("--simulate", action="store_true", help="run against an in-process simulator")
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
        "--timeout",
        type=types.seconds(minimum=0.1),
        default=None,
        help="seconds an attempt may take, 0.1 to 3600 (default 35); a RerunJob abandoned "
        "after it was sent is checked with GetJobInstanceList, never resent blindly",
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
        "-v", "--verbose", action="store_true", help="console: also log every successful attempt"
    )
    run.add_argument(
        "--log-file", help="append every event as JSON lines here (default: <journal>.log.jsonl)"
    )
    run.add_argument("--max-chunks", type=_MAX_CHUNKS, help="refuse larger plans")
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
    _add_neighbour_options(run)

    _add_status(commands)

    settle = commands.add_parser(
        "settle", help="record what you found for unknown chunks (after checking the console)"
    )
    settle.add_argument("keys", nargs="+", metavar="KEY", help="chunk keys, as `status` lists them")
    settle.add_argument("--journal", required=True)
    settle.add_argument(
        "--as",
        dest="settle_as",
        required=True,
        choices=("succeeded", "pending"),
        help="succeeded: its days are there; pending: they are not, the next run sends it",
    )
    settle.add_argument("--reason", required=True, help="why; kept in the journal")

    simulate = commands.add_parser("simulate", help="serve the SchedulerX simulator until stopped")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=types.port, default=0)
    simulate.add_argument("--config", help="simulator YAML config")
    return parser


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


def _add_watch_options(run: _Parser) -> None:
    run.add_argument(
        "--no-watch",
        action="store_true",
        help="return once the calls are accepted, without watching the rerun instances",
    )
    run.add_argument("--watch-poll", type=float, default=None, help=argparse.SUPPRESS)
    run.add_argument("--appear-seconds", type=float, default=600.0, help=argparse.SUPPRESS)


def _add_status(commands: argparse._SubParsersAction[_Parser]) -> None:
    status = commands.add_parser("status", help="what a journal holds")
    status.add_argument("--journal", required=True)
    status.add_argument("--format", choices=("table", "json"), default="table")
    status.add_argument(
        "--days", action="store_true", help="one line per day, with its rerun instance"
    )
    status.add_argument(
        "--job", type=int, action="append", default=[], help="with --days: only this job"
    )
    status.add_argument(
        "--status",
        dest="day_status",
        action="append",
        default=[],
        help="with --days: only days of this status or instance status (failed, rejected, ...)",
    )


def _add_check(commands: argparse._SubParsersAction[_Parser]) -> None:
    check = commands.add_parser(
        "check", help="ask SchedulerX about every job of the plans (nothing is rerun)"
    )
    check.add_argument("plans", nargs="+", metavar="PLAN")
    check.add_argument(
        "--endpoint",
        type=types.endpoint,
        help="override the regional endpoint (http:// only to loopback; HOST:PORT of a "
        "loopback host means http://HOST:PORT)",
    )
    check.add_argument("--simulate", action="store_true", help="against an in-process simulator")
    check.add_argument(
        "--timeout",
        type=types.seconds(minimum=0.1),
        default=None,
        help="seconds an attempt may take, 0.1 to 3600",
    )
    check.add_argument(
        "--read-rate",
        type=types.rate,
        help="pace of each read API per account (default 100/min)",
    )
    check.add_argument("--format", choices=("text", "json", "github"), default="text")
    check.add_argument("--no-progress", action="store_true", help="no live progress display")


_MAX_CHUNKS = types.count("max_chunks")


def _cmd_validate(args: argparse.Namespace) -> int:
    """Check every plan given, alone and against each other; exit 2 if any fails."""
    from ._regions import KNOWN_REGIONS  # noqa: PLC0415 - keep start-up light
    from .plan import check_plans  # noqa: PLC0415
    from .plan._verdicts import (  # noqa: PLC0415
        github_commands,
        passed,
        verdicts_json,
        write_text,
    )

    checks = check_plans(
        args.plans, max_chunks=args.max_chunks, known_regions=KNOWN_REGIONS, across=not args.alone
    )
    if args.format == "json":
        import json  # noqa: PLC0415

        json.dump(verdicts_json(checks, strict=args.strict), sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    elif args.format == "github":
        for command in github_commands(checks):
            print(command)
    else:
        write_text(checks, sys.stdout, sys.stderr, strict=args.strict)
    sys.stdout.flush()
    return EXIT_OK if all(passed(c, strict=args.strict) for c in checks) else EXIT_USAGE


def _cmd_plan(args: argparse.Namespace) -> int:
    """Dry run: the plan's chunks as JSON lines, or a summary table; nothing is sent."""
    from .plan import check_plan, render_jsonl, render_table  # noqa: PLC0415

    plan, diagnostics = check_plan(args.plan, max_chunks=args.max_chunks)
    for diagnostic in diagnostics:
        print(diagnostic, file=sys.stderr)
    if plan is None:
        return EXIT_USAGE
    if args.format == "jsonl":
        render_jsonl(plan, sys.stdout)
    elif args.format == "json":
        import json  # noqa: PLC0415

        from .plan._render import plan_summary  # noqa: PLC0415

        json.dump(plan_summary(plan), sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        render_table(plan, sys.stdout)
    sys.stdout.flush()  # a closed pipe surfaces here, inside main's BrokenPipeError handler
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace) -> int:
    """Print the plan format's JSON Schema (draft 2020-12) for editors and CI."""
    import json  # noqa: PLC0415

    from .plan import plan_json_schema  # noqa: PLC0415

    print(json.dumps(plan_json_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from .run._command import main  # noqa: PLC0415 keep validate/plan fast

    return main(args)


def _cmd_check(args: argparse.Namespace) -> int:
    from .preflight._command import main  # noqa: PLC0415 keep validate/plan fast

    return main(args)


def _cmd_status(args: argparse.Namespace) -> int:
    from .journal import JournalError, render_status  # noqa: PLC0415
    from .journal._locate import open_readonly  # noqa: PLC0415

    try:
        journal = open_readonly(args.journal)
    except JournalError as exc:
        print(f"rerun-orchestrator status: {exc}", file=sys.stderr)
        return EXIT_USAGE
    with journal:
        if args.days:
            from .journal._status_days import render_days  # noqa: PLC0415

            render_days(
                journal, sys.stdout, fmt=args.format, jobs=args.job, statuses=args.day_status
            )
        else:
            render_status(journal, sys.stdout, fmt=args.format)
    return EXIT_OK


def _cmd_simulate(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415 heavy imports stay inside their command

    from .simulator import SimulatorConfigError, serve  # noqa: PLC0415

    try:
        asyncio.run(serve(args.host, args.port, args.config, stdout=sys.stdout))
    except SimulatorConfigError as exc:
        if len(exc.problems) > 1:
            print(f"rerun-orchestrator simulate: {len(exc.problems)} problems", file=sys.stderr)
        for problem in exc.problems:
            print(f"rerun-orchestrator simulate: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # the address is taken or cannot be bound
        print(f"rerun-orchestrator simulate: cannot listen: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _cmd_settle(args: argparse.Namespace) -> int:
    from .journal import (  # noqa: PLC0415 - keep start-up light
        ChunkStatus,
        JournalError,
        settle_by_hand,
    )
    from .journal._locate import open_existing  # noqa: PLC0415

    try:
        with open_existing(args.journal) as journal:
            records = settle_by_hand(journal, args.keys, ChunkStatus(args.settle_as), args.reason)
    except JournalError as exc:  # also InvalidTransitionError and a journal a run holds
        print(f"rerun-orchestrator settle: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for record in records:
        print(f"{record.key}: {record.status} ({record.reason})")
    return EXIT_OK


def _check_combinations(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Options that mean nothing without another one are refused, not ignored."""
    if args.command == "run" and args.simulate_quota and not args.simulate:
        raise _UsageError(
            f"{parser.prog} run: --simulate-quota is the quota of the built-in simulator:"
            " it needs --simulate"
        )


_COMMANDS = {
    "validate": _cmd_validate,
    "plan": _cmd_plan,
    "schema": _cmd_schema,
    "run": _cmd_run,
    "check": _cmd_check,
    "status": _cmd_status,
    "simulate": _cmd_simulate,
    "settle": _cmd_settle,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rerun-orchestrator` console script."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        _check_combinations(parser, args)
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    try:
        return _COMMANDS[args.command](args)
    except BrokenPipeError:  # `plan ... | head` is normal use
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
