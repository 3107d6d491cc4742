"""The `run` command behind `cli._cmd_run`: wiring and exit codes, no logic of its own.

It loads the plan, applies the overrides, resolves credentials (or starts the in-process
simulator for ``--simulate``), opens the journal, installs the signal handlers and calls
`run_plan`; then writes the report and the summary. Everything that can be refused is
refused before anything is sent (exit 2).

Graceful stop: the signal handlers are installed before any work (`StopRequests`), so a
stop during start-up is obeyed too, with exit 130 and nothing sent. The first
SIGINT/SIGTERM stops dispatching and says how to force a stop; calls in flight get
`STOP_GRACE_SECONDS` to finish and be recorded, then the run is cancelled. A second signal
cancels at once. Either way the journal stays consistent (a call cut off is "in flight"
and the next run reconciles it) and the exit code is 130.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import signal
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import structlog

from .._clock import SystemClock
from .._exit_codes import ExitCode
from .._logsetup import (
    IoFailure,
    close_log_file,
    configure,
    is_closed_pipe,
    mute_stream,
    on_io_failure,
)
from ..journal import JournalError, JournalLockedError
from ..journal._locate import describe, open_journal
from ..journal._report import RunInfo, write_plan_report
from ..journal._url import is_postgres_url, redact
from ..plan import Plan
from ..preflight import PreflightFailedError
from ..run._ledger_options import (
    default_journal_path,
    ledger_summary,
    plan_problems,
    state_home,
)
from ..run._outputs import OutputPathError, check_outputs
from ..run._progress import write_summary
from ..run._result import RunStats
from ..run._run_options import UsageError
from ..run._session import execute, interrupted
from ..run._shared_pacer import replica_line
from ..run._stop import StopRequests
from ._run_options import prepare

if TYPE_CHECKING:
    from ..journal import Journal

PROBLEMS_SHOWN = 10

_log = structlog.get_logger("rerun_orchestrator.cli")


def default_log_path(journal: Path) -> Path:
    """``<journal>.log.jsonl``: every event of every run of that journal, appended."""
    return journal.with_name(journal.name + ".log.jsonl")


def main(args: argparse.Namespace) -> int:
    """Run `args.plan` as the contract's `run` command; returns the exit code.

    The logging set up for the command is undone when it returns, so that a caller in the
    same process (a test, a service calling `cli.main`) keeps its own.
    """
    saved = structlog.get_config()
    requests = StopRequests(announce=args.log_format != "json")
    with contextlib.suppress(ValueError):  # not the main thread: the host handles signals
        requests.install()  # before any work: a stop during start-up is obeyed too
    failures: list[IoFailure] = []

    def failed(kind: IoFailure) -> None:  # stop as on a signal: calls in flight recorded
        failures.append(kind)
        requests.request(signal.SIGPIPE if kind == "console" else signal.SIGTERM)

    on_io_failure(failed)
    try:
        code = _main(args, requests)
    finally:
        on_io_failure(None)
        requests.restore()
        close_log_file()
        structlog.configure(**saved)
    if failures and code == ExitCode.INTERRUPTED:  # the stop was ours, not a person's
        return ExitCode.CONSOLE_CLOSED if failures[0] == "console" else ExitCode.INCOMPLETE
    return code


def _main(args: argparse.Namespace, requests: StopRequests) -> int:
    configure(args.log_format, verbose=args.verbose)
    try:
        plan, options = prepare(args)
        check_outputs(report=args.report, log_file=args.log_file)
    except (UsageError, OutputPathError) as exc:
        return _refuse(str(exc), args.log_format)
    if requests.requested:
        return _stopped_before_start(args.log_format)
    location = args.journal or default_journal_path(plan)  # a path or a postgresql:// URL
    path = describe(location)  # what the summary and the logs call it (no password)
    try:
        journal = open_journal(
            location,
            plan_name=plan.name,
            plan_digest=plan.digest,
            timezone=plan.timezone,
            job_days=plan.count_job_days(),
            chunks=plan.count_chunks(),
            locations={
                (t.region, t.namespace, t.namespace_source, t.group_id) for t in plan.targets
            },
            synchronous="NORMAL" if args.journal_sync == "normal" else "FULL",
        )
    except (JournalError, OSError) as exc:  # held by another run: try later, not a bad plan
        busy = isinstance(exc, JournalLockedError)
        return _refuse(str(exc), args.log_format, ExitCode.JOURNAL_BUSY if busy else None)
    try:
        log_file = (
            Path(args.log_file)
            if args.log_file
            else default_log_path(
                state_home() / plan.name if is_postgres_url(path) else Path(location)
            )
        )
        try:
            configure(args.log_format, verbose=args.verbose, log_file=log_file)
        except OSError as exc:
            return _refuse(
                f"cannot open log file {log_file}: {exc.strerror or exc}", args.log_format
            )
        if requests.requested:
            return _stopped_before_start(args.log_format)
        started_at = SystemClock().wall()  # for the report
        try:
            notes: list[str] = []
            result = anyio.run(execute, plan, journal, options, notes, requests)
        except (UsageError, PreflightFailedError) as exc:  # nothing was sent
            return _refuse(str(exc), args.log_format)
        except KeyboardInterrupt:  # no handlers of our own (not the main thread)
            result = None
        except (JournalError, sqlite3.Error) as exc:  # gone under the run, cannot write
            return _journal_lost(path, exc)
        except ExceptionGroup as group:  # a commit failed in a task of the run
            lost = group.subgroup((JournalError, sqlite3.Error))
            if lost is None or lost.split((JournalError, sqlite3.Error))[1] is not None:
                raise
            return _journal_lost(path, _first_leaf(lost))
        if result is None:  # stopped hard: nothing to summarise but the journal
            result = interrupted(plan, journal, RunStats(), 0.0)
        if args.report:
            run = RunInfo(options.run_id, started_at, SystemClock().wall())
            _write_report(Path(args.report), journal, plan, run)
        try:
            write_summary(
                result,
                list(itertools.islice(plan_problems(plan, journal), PROBLEMS_SHOWN)),
                sys.stdout,
                rich=sys.stdout.isatty(),
            )
            for note in notes:
                print(note)
            ledger_summary(result, path, plan.name, sys.stdout)
            if (line := replica_line(journal)) is not None:
                print(line)
            sys.stdout.flush()
        except OSError as exc:  # `run ... | head`: the run is over, its exit code stands
            if not is_closed_pipe(exc):
                raise
            mute_stream(sys.stdout)
        return result.exit_code
    finally:
        journal.close()


def _stopped_before_start(log_format: str) -> int:
    message = "stopped before anything was sent: run the same command again to start"
    if log_format == "json":
        _log.warning("rerun.run.stopped", reason=message)
    else:
        with contextlib.suppress(OSError):  # a closed console: the exit code still says it
            print(f"rerun-orchestrator run: {message}", file=sys.stderr)
    return ExitCode.INTERRUPTED


def _write_report(path: Path, journal: Journal, plan: Plan, run: RunInfo) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        write_plan_report(journal, plan, out, run=run)
    tmp.replace(path)  # a reader never sees half a report


def _journal_lost(path: Path | str, exc: BaseException) -> int:
    """A commit failed (disk full, I/O error) or the journal went away: one line, exit 1.
    What was committed stands; the chunk being written is "in flight" and reconciled."""
    path = redact(path) if isinstance(path, str) else path
    message = str(exc)
    cause = exc if isinstance(exc, sqlite3.Error) else exc.__cause__
    if isinstance(cause, sqlite3.Error):  # the writer's own failure, or a later write's
        message = (
            f"cannot write journal {path}: {cause}; the run stopped, what was recorded "
            "stands: free space (or fix the disk), then run the same command again to resume"
        )
    _log.error("rerun.run.journal_lost", journal=str(path), error=message)
    with contextlib.suppress(OSError):
        print(f"rerun-orchestrator run: {message}", file=sys.stderr)
    return ExitCode.INCOMPLETE


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


def _refuse(message: str, log_format: str, code: ExitCode | None = None) -> int:
    if log_format == "json":
        _log.error("rerun.run.refused", error=message)
    else:
        with contextlib.suppress(OSError):  # a closed console: the exit code still says it
            print(f"rerun-orchestrator run: {message}", file=sys.stderr)
    return code or ExitCode.USAGE


__all__ = ["default_journal_path", "main"]
