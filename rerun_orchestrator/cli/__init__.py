"""The command line: parse arguments, call the library, map outcomes to exit codes.

One module per verb (its options and its command); nothing else lives here. Heavy imports
happen inside each command so that `validate` stays fast and never loads the HTTP stack.
Exit codes: `rerun_orchestrator._exit_codes.ExitCode`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from .._exit_codes import ExitCode
from . import _check, _plan, _run, _settle, _simulate, _status, _validate
from ._parser import Parser, UsageError, check_connection

_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "validate": _validate.command,
    "plan": _plan.plan_command,
    "schema": _plan.schema_command,
    "run": _run.command,
    "check": _check.command,
    "status": _status.command,
    "simulate": _simulate.command,
    "settle": _settle.command,
}


def build_parser() -> Parser:
    """The whole command line, verb by verb, in the order `--help` lists them."""
    parser = Parser(
        prog="rerun-orchestrator",
        description="Run large historical backfills on Alibaba Cloud SchedulerX.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _validate.add_parser(commands)
    _plan.add_parsers(commands)
    _check.add_parser(commands)
    _run.add_parser(commands)
    _status.add_parser(commands)
    _settle.add_parser(commands)
    _simulate.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rerun-orchestrator` console script."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command in ("run", "check"):
            check_connection(parser.prog, args.command, args)
        if args.command == "run":
            _run.check_combinations(parser.prog, args)
        elif args.command == "status":
            _status.check_arguments(parser.prog, args)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return ExitCode.USAGE
    try:
        return _COMMANDS[args.command](args)
    except BrokenPipeError:  # `plan ... | head` is normal use
        sys.stderr.close()
        return ExitCode.OK


__all__ = ["ExitCode", "build_parser", "main"]
