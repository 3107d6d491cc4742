"""`validate PLAN...`: offline checks of plans, alone and against each other."""

from __future__ import annotations

import argparse
import sys

from .._exit_codes import ExitCode
from ._parser import Parser, add_max_chunks


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
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
    add_max_chunks(validate)


def command(args: argparse.Namespace) -> int:
    """Check every plan given, alone and against each other; exit 2 if any fails."""
    from .._regions import KNOWN_REGIONS  # noqa: PLC0415 - keep start-up light
    from ..plan import check_plans  # noqa: PLC0415
    from ..plan._verdicts import (  # noqa: PLC0415
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
        for line in github_commands(checks):
            print(line)
    else:
        write_text(checks, sys.stdout, sys.stderr, strict=args.strict)
    sys.stdout.flush()
    ok = all(passed(c, strict=args.strict) for c in checks)
    return ExitCode.OK if ok else ExitCode.USAGE
