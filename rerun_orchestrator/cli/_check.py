"""`check PLAN...`: ask SchedulerX about every job (GetJobInfo); the wiring is
`cli/_check_command.py`."""

from __future__ import annotations

import argparse

from . import _option_types as types
from ._parser import Parser, add_connection


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    check = commands.add_parser(
        "check", help="ask SchedulerX about every job of the plans (nothing is rerun)"
    )
    check.add_argument("plans", nargs="+", metavar="PLAN")
    add_connection(check, timeout_help="seconds an attempt may take, 0.1 to 3600")
    check.add_argument(
        "--read-rate",
        type=types.rate,
        help="pace of each read API per account (default 100/min)",
    )
    check.add_argument("--format", choices=("text", "json", "github"), default="text")
    check.add_argument("--no-progress", action="store_true", help="no live progress display")


def command(args: argparse.Namespace) -> int:
    from ._check_command import main  # noqa: PLC0415 keep validate/plan fast

    return main(args)
