"""`plan PLAN` (the dry run) and `schema` (the plan format's JSON Schema)."""

from __future__ import annotations

import argparse
import sys

from .._exit_codes import ExitCode
from ._parser import Parser, add_max_chunks


def add_plan_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    plan = commands.add_parser("plan", help="dry run: show what would be sent")
    plan.add_argument("plan", metavar="PLAN")
    plan.add_argument(
        "--format",
        choices=("table", "jsonl", "json"),
        default="table",
        help="table: a summary; jsonl: one object per chunk; json: counts, per-target totals "
        "and the ETA as one object",
    )
    add_max_chunks(plan)


def add_schema_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    commands.add_parser("schema", help="print the JSON Schema of the plan format")


def plan_command(args: argparse.Namespace) -> int:
    """Dry run: the plan's chunks as JSON lines, or a summary table; nothing is sent."""
    from ..plan import check_plan, render_jsonl, render_table  # noqa: PLC0415

    plan, diagnostics = check_plan(args.plan, max_chunks=args.max_chunks)
    for diagnostic in diagnostics:
        print(diagnostic, file=sys.stderr)
    if plan is None:
        return ExitCode.USAGE
    if args.format == "jsonl":
        render_jsonl(plan, sys.stdout)
    elif args.format == "json":
        import json  # noqa: PLC0415

        from ..plan._render import plan_summary  # noqa: PLC0415

        json.dump(plan_summary(plan), sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        render_table(plan, sys.stdout)
    sys.stdout.flush()  # a closed pipe surfaces here, inside main's BrokenPipeError handler
    return ExitCode.OK


def schema_command(args: argparse.Namespace) -> int:
    """Print the plan format's JSON Schema (draft 2020-12) for editors and CI."""
    import json  # noqa: PLC0415

    from ..plan import plan_json_schema  # noqa: PLC0415

    print(json.dumps(plan_json_schema(), indent=2, ensure_ascii=False))
    return ExitCode.OK
