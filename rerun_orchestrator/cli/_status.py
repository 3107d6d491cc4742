"""`status [PLAN]`: what a journal holds; with PLAN, how far that plan has got.

The journal is found as `run` finds it (``--journal``, else ``$RERUN_ORCHESTRATOR_JOURNAL``,
else ``$RERUN_ORCHESTRATOR_HOME/<plan name>.sqlite``), so a CI job names only the plan.
``--exit-code`` makes the verdict the exit code: 0 every planned day succeeded, 1 some
day needs a person, 3 not done yet (see `journal/_status_plan.py`).
"""

from __future__ import annotations

import argparse
import os
import sys

from .._exit_codes import ExitCode
from ._parser import Parser, UsageError

_BY_VERDICT = {"ok": ExitCode.OK, "problems": ExitCode.INCOMPLETE, "not_done": ExitCode.NOT_DONE}


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    status = commands.add_parser("status", help="what a journal holds (or how far a plan got)")
    status.add_argument(
        "plan",
        nargs="?",
        metavar="PLAN",
        help="a plan: its journal is found as `run` finds it, and its progress is shown",
    )
    status.add_argument(
        "--journal",
        help="SQLite path or postgresql:// URL (default with PLAN: as `run` finds it)",
    )
    status.add_argument("--format", choices=("table", "json"), default="table")
    status.add_argument(
        "--exit-code",
        action="store_true",
        help="exit 0 only if every planned day succeeded; 1 if some day failed, is unknown "
        "or its instance did not succeed; 3 if days are still pending or running",
    )
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


def check_arguments(prog: str, args: argparse.Namespace) -> None:
    """A journal must be named somehow: by PLAN, --journal or the environment."""
    from ..journal._locate import JOURNAL_VARIABLE  # noqa: PLC0415

    if not (args.plan or args.journal or os.environ.get(JOURNAL_VARIABLE)):
        raise UsageError(
            f"{prog} status: give PLAN (its journal is found as run finds it) or --journal PATH"
        )


def command(args: argparse.Namespace) -> int:
    from ..journal import JournalError  # noqa: PLC0415
    from ..journal._locate import journal_location, open_readonly  # noqa: PLC0415
    from ..journal._status import journal_verdict, render_status, status_data  # noqa: PLC0415

    plan = None
    if args.plan:
        from ..plan import check_plan  # noqa: PLC0415

        plan, diagnostics = check_plan(args.plan)
        for diagnostic in diagnostics:  # a warning is validate's to say, not every status's
            if diagnostic.is_error:
                print(diagnostic, file=sys.stderr)
        if plan is None:
            return ExitCode.USAGE
    location = journal_location(args.journal, plan.name if plan else "")
    try:
        journal = open_readonly(location)
    except JournalError as exc:
        hint = f" (has plan {plan.name} run with this journal yet?)" if plan else ""
        print(f"rerun-orchestrator status: {exc}{hint}", file=sys.stderr)
        return ExitCode.USAGE
    with journal:
        if args.days:
            from ..journal._status_days import render_days  # noqa: PLC0415

            render_days(
                journal, sys.stdout, fmt=args.format, jobs=args.job, statuses=args.day_status
            )
            data = status_data(journal) if args.exit_code and plan is None else None
        else:
            data = render_status(
                journal, sys.stdout, fmt=args.format, plan=plan, plan_path=args.plan
            )
        if not args.exit_code:
            return ExitCode.OK
        if plan is not None:
            from ..journal._status_plan import plan_status  # noqa: PLC0415

            said = (data or {}).get("plan_status") or plan_status(journal, plan)
            return _BY_VERDICT[said["verdict"]]
        assert data is not None
        return _BY_VERDICT[journal_verdict(data)]
