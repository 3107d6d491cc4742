"""The command line: parse arguments, call the library, map outcomes to exit codes.

One module per verb (its options and its command); nothing else lives here. Heavy imports
happen inside each command, and only the verb typed has its module imported and its
sub-parser built, so that `validate` starts fast and never loads the HTTP stack.
Exit codes: `rerun_orchestrator._exit_codes.ExitCode`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any, Literal

from .. import __version__
from .._exit_codes import ExitCode
from ._parser import Parser, UsageError, check_connection

# verb -> (its module, the function that adds its sub-parser, the function that runs it), in
# the order `--help` lists them. A module is imported only for the verb typed.
_VERBS: dict[str, tuple[str, str, str]] = {
    "validate": ("._validate", "add_parser", "command"),
    "plan": ("._plan", "add_plan_parser", "plan_command"),
    "schema": ("._plan", "add_schema_parser", "schema_command"),
    "check": ("._check", "add_parser", "command"),
    "run": ("._run", "add_parser", "command"),
    "status": ("._status", "add_parser", "command"),
    "settle": ("._settle", "add_parser", "command"),
    "simulate": ("._simulate", "add_parser", "command"),
}


def _verb_function(verb: str, role: Literal["add", "run"]) -> Callable[..., Any]:
    """`verb`'s sub-parser builder ("add") or command ("run"), its module imported now."""
    module, add, run = _VERBS[verb]
    function: Callable[..., Any] = getattr(
        importlib.import_module(module, __name__), add if role == "add" else run
    )
    return function


def build_parser(verbs: Sequence[str] = tuple(_VERBS)) -> Parser:
    """The command line, verb by verb, in the order `--help` lists them.

    Args:
        verbs: the verbs whose sub-parsers are built (all by default). `main` builds only
            the verb typed: each sub-parser costs start-up time (issue 13).
    """
    parser = Parser(
        prog="rerun-orchestrator",
        description="Run large historical backfills on Alibaba Cloud SchedulerX.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for verb in verbs:
        _verb_function(verb, "add")(commands)
    return parser


def _verbs_needed(argv: Sequence[str]) -> Sequence[str]:
    """The verbs whose sub-parsers parsing `argv` can reach. When the first argument is a
    verb, argparse hands everything after it to that verb's sub-parser and never looks at
    the others; otherwise (`--help`, `--version`, a typo) the whole parser answers."""
    if argv and argv[0] in _VERBS:
        return (argv[0],)
    return tuple(_VERBS)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rerun-orchestrator` console script."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(_verbs_needed(argv))
    try:
        args = parser.parse_args(argv)
        if args.command in ("run", "check"):
            check_connection(parser.prog, args.command, args)
        if args.command == "run":
            from ._run import check_combinations  # noqa: PLC0415

            check_combinations(parser.prog, args)
        elif args.command == "status":
            from ._status import check_arguments  # noqa: PLC0415

            check_arguments(parser.prog, args)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return ExitCode.USAGE
    command: Callable[[argparse.Namespace], int] = _verb_function(args.command, "run")
    try:
        return command(args)
    except BrokenPipeError:  # `plan ... | head` is normal use
        sys.stderr.close()
        return ExitCode.OK


__all__ = ["ExitCode", "build_parser", "main"]
