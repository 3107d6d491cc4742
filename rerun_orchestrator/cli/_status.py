"""`status`: what a journal holds."""

from __future__ import annotations

import argparse
import sys

from .._exit_codes import ExitCode
from ._parser import Parser


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
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


def command(args: argparse.Namespace) -> int:
    from ..journal import JournalError, render_status  # noqa: PLC0415
    from ..journal._locate import open_readonly  # noqa: PLC0415

    try:
        journal = open_readonly(args.journal)
    except JournalError as exc:
        print(f"rerun-orchestrator status: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    with journal:
        if args.days:
            from ..journal._status_days import render_days  # noqa: PLC0415

            render_days(
                journal, sys.stdout, fmt=args.format, jobs=args.job, statuses=args.day_status
            )
        else:
            render_status(journal, sys.stdout, fmt=args.format)
    return ExitCode.OK
