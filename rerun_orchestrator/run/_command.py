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
import dataclasses
import functools
import itertools
import secrets
import signal
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import structlog
from rich.console import Console

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
from ..journal._view import plan_counts
from ..plan import Plan, PlanError, load_plan, parse_rate
from ..plan._model import Rate
from ..preflight import JournalCache, PreflightFailedError, preflight_before_run
from ..schedulerx import (
    AiohttpTransport,
    Credentials,
    CredentialsError,
    CredentialsProvider,
    EndpointError,
    SchedulerXClient,
    StaticCredentialsProvider,
    Timeouts,
    check_endpoint_override,
    default_credentials_provider,
    pool_size,
    resolve_endpoint,
)
from ._adaptive import AdaptiveLimiter
from ._events import WatchFinished
from ._executor import RERUN_JOB, chunk_counts, day_counts, run_plan
from ._guard import DEFAULT_LOOKBACK_SECONDS, ServerGuard
from ._ledger_options import (
    default_journal_path,
    ledger_summary,
    parse_duration,
    plan_problems,
    rerun_generation,
    state_home,
)
from ._limiter import Pacer, RateLimiter, shared_limiters
from ._offloop import journal_read, journal_write
from ._options import RunPolicy, new_run_id
from ._outputs import OutputPathError, check_outputs
from ._progress import LiveProgress, write_summary
from ._reconcile import Reconciler
from ._result import RunResult, RunStats
from ._retry_instances import retry_failed_instances
from ._shared_pacer import replica_line, shared_pacer_for
from ._stall import DEFAULT_STALL_TIMEOUT
from ._stop import STOP_GRACE_SECONDS, StoppedError, StopRequests
from ._watch import InstanceWatcher, instance_counts

if TYPE_CHECKING:
    from ..journal import Journal

# GetJobInstanceList has its own quota: 100 calls per minute per account, like RerunJob.
READ_API = "GetJobInstanceList"
RETRY_API = "RetryJobInstance"
# Listings the watcher may start per read-quota call: a listing is at least two pages (the
# end is proven by an empty page), so 0.3 spends about 60% of GetJobInstanceList's quota
# and leaves the rest to reconciliation and the guard.
WATCH_SHARE = 0.3
MAX_WATCH_POLL = 300.0
PROBLEMS_SHOWN = 10

_log = structlog.get_logger("rerun_orchestrator.cli")


class _UsageError(Exception):
    """Refused before anything was sent: exit 2 with this message."""


@dataclass(frozen=True, slots=True)
class _Options:
    simulate: bool
    endpoint: str | None
    retry_failed: bool
    progress: bool
    settle_seconds: float
    timeouts: Timeouts | None
    simulate_quota: Rate | None
    read_rate: Rate
    lookback_seconds: float = DEFAULT_LOOKBACK_SECONDS
    rerun_succeeded: bool = False
    ignore_windows: bool = False
    preflight: bool = True
    stall_timeout: float = DEFAULT_STALL_TIMEOUT
    watch: bool = True
    watch_poll: float = 2.0
    appear_seconds: float = 600.0
    profile: str | None = None  # --profile: that profile only (see default_credentials_provider)
    run_id: str = dataclasses.field(default_factory=new_run_id)  # the logs' and the report's


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
        plan, options = _prepare(args)
        check_outputs(report=args.report, log_file=args.log_file)
    except (_UsageError, OutputPathError) as exc:
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
            result = anyio.run(_execute, plan, journal, options, notes, requests)
        except (_UsageError, PreflightFailedError) as exc:  # nothing was sent
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
            result = _interrupted(plan, journal, RunStats(), 0.0)
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


def _timeouts(seconds: float | None) -> Timeouts | None:
    """`--timeout`: the whole attempt, connecting included, takes at most `seconds`."""
    if seconds is None:
        return None
    return Timeouts(connect=min(Timeouts().connect, seconds), read=seconds, total=seconds)


def _prepare(args: argparse.Namespace) -> tuple[Plan, _Options]:
    if args.simulate and args.endpoint:
        raise _UsageError("--simulate and --endpoint exclude each other")
    try:
        plan = load_plan(args.plan, max_chunks=args.max_chunks)
    except PlanError as exc:
        raise _UsageError(str(exc)) from None
    except OSError as exc:
        raise _UsageError(f"cannot read plan {args.plan}: {exc.strerror or exc}") from None
    changes: dict[str, Any] = {}
    try:
        if args.rate:
            changes["rate"] = parse_rate(args.rate)
        if args.concurrency is not None:
            changes["concurrency"] = args.concurrency
        if changes:
            plan = plan.with_execution(**changes)
        simulate_quota = parse_rate(args.simulate_quota) if args.simulate_quota else None
        # --read-rate, else the plan's execution.read_rate (default 100/min)
        read_rate = parse_rate(args.read_rate) if args.read_rate else plan.execution.read_rate
        if args.simulate and not args.read_rate:  # the simulator reads as fast as it reruns
            read_rate = simulate_quota or plan.execution.rate
    except ValueError as exc:
        raise _UsageError(f"bad option: {exc}") from None
    if args.timeout is not None and not args.timeout > 0:
        raise _UsageError("--timeout must be a positive number of seconds")
    if not 0 < args.stall_timeout < float("inf"):
        raise _UsageError("--stall-timeout must be a positive, finite number of seconds")
    if args.settle_seconds < 0:
        raise _UsageError("--settle-seconds must be >= 0")
    try:
        lookback = parse_duration(args.lookback)
    except ValueError:
        raise _UsageError(
            f"--lookback {args.lookback!r}: give a duration such as 7d, 36h or 0"
        ) from None
    endpoint = None
    try:
        if args.endpoint:
            endpoint = check_endpoint_override(args.endpoint)
        elif not args.simulate:
            # Refuse an unmapped region now rather than with the first of its chunks mid-run.
            for region in sorted({job_set.region for job_set in plan.job_sets()}):
                resolve_endpoint(region)
    except EndpointError as exc:
        raise _UsageError(str(exc)) from None
    options = _Options(
        simulate=args.simulate,
        endpoint=endpoint,
        retry_failed=args.retry_failed,
        progress=not args.no_progress and sys.stderr.isatty(),
        settle_seconds=args.settle_seconds,
        timeouts=_timeouts(args.timeout),
        simulate_quota=simulate_quota,
        read_rate=read_rate,
        lookback_seconds=lookback,
        rerun_succeeded=args.rerun_succeeded,
        ignore_windows=getattr(args, "ignore_windows", False),
        preflight=not getattr(args, "no_preflight", False),
        stall_timeout=args.stall_timeout,
        watch=not getattr(args, "no_watch", False),
        # the simulator's instances run 0.2 s: watch them at that pace, not a real job's
        watch_poll=getattr(args, "watch_poll", None) or (0.2 if args.simulate else 2.0),
        appear_seconds=getattr(args, "appear_seconds", 600.0),
        profile=getattr(args, "profile", None),
    )
    return plan, options


def _account_pacers(
    journal: Journal, account: str, plan: Plan, read_rate: Rate
) -> tuple[Pacer, Pacer, Callable[[], Pacer]]:
    """The account's RerunJob and read pacers, and how to build another read pacer.

    A PostgreSQL journal shares the account's quota with every replica through the
    database; otherwise the pacers are this process's.
    """

    def rerun_pacer() -> Pacer:
        shared = shared_pacer_for(journal, account, RERUN_JOB, plan.execution.rate)
        return shared or AdaptiveLimiter(plan.execution.rate)

    def read_pacer() -> Pacer:
        shared = shared_pacer_for(journal, account, READ_API, read_rate, adaptive=False)
        return shared or RateLimiter(read_rate)

    pacer = shared_limiters.get(account, RERUN_JOB, rerun_pacer)
    return pacer, shared_limiters.get(account, READ_API, read_pacer), read_pacer


async def _execute(
    plan: Plan, journal: Journal, options: _Options, notes: list[str], requests: StopRequests
) -> RunResult:
    clock = SystemClock()
    started = clock.now()
    stop = anyio.Event()
    run_scope = anyio.CancelScope()
    requests.obey(stop, run_scope, grace=STOP_GRACE_SECONDS)
    async with AsyncExitStack() as stack:
        endpoint: str | None
        if options.simulate:
            provider, credentials, endpoint = await _start_simulator(plan, options, stack)
        else:
            provider, credentials = await _credentials(options.profile)
            endpoint = options.endpoint
        # a connection per call in flight: no call waits for one (issue 13)
        limit = pool_size(plan.execution.concurrency)
        transport = AiohttpTransport(timeouts=options.timeouts, limit=limit)
        stack.push_async_callback(transport.aclose)
        client = SchedulerXClient(provider, endpoint=endpoint, transport=transport)
        stack.push_async_callback(client.aclose)
        account = credentials.access_key_id
        del credentials  # only the key id is needed from here on
        _log.info("rerun.client", endpoint=endpoint or "regional", access_key_id=account)
        if options.preflight:  # every job exists, is enabled, can rerun: or nothing is sent
            # (what it learns is kept in the journal: a resume asks only jobs not checked)
            cache = await journal_read(journal, JournalCache, journal)
            try:
                await preflight_before_run(
                    plan,
                    client,
                    account=account,
                    read_rate=options.read_rate,
                    cache=cache,
                    progress=options.progress,
                )
            finally:
                await journal_write(journal, cache.save)

        pacer, reads, read_pacer = _account_pacers(journal, account, plan, options.read_rate)
        reconciler = Reconciler(
            client,
            timezone=plan.timezone,
            acquire=reads.acquire,
            settle_seconds=options.settle_seconds,
        )
        guard = None
        # --simulate starts a new, empty simulator: nothing could be found on it.
        if options.lookback_seconds > 0 and not options.rerun_succeeded and not options.simulate:
            guard = ServerGuard(
                reconciler, journal, plan.name, plan.timezone, options.lookback_seconds
            )
        generation = rerun_generation(plan, journal) if options.rerun_succeeded else 0
        stats = RunStats()
        result: RunResult | None = None
        watcher = (
            await _start_watch(
                plan,
                journal,
                options,
                reconciler=reconciler,
                client=client,
                retries=shared_limiters.get(account, RETRY_API, read_pacer),
                generation=generation,
                notes=notes,
            )
            if options.watch
            else None
        )
        with run_scope:
            progress = (
                LiveProgress(stats, pacer, clock, Console(file=sys.stderr))
                if options.progress
                else nullcontext()
            )
            with progress, contextlib.suppress(StoppedError):  # stopped during start-up
                sending = functools.partial(
                    run_plan,
                    plan,
                    client=client,
                    journal=journal,
                    reconciler=reconciler,
                    limiter=pacer,
                    retry_failed=options.retry_failed,
                    stop=stop,
                    stats=stats,
                    guard=guard,
                    generation=generation,
                    stall_timeout=options.stall_timeout,
                    stop_requested=lambda: requests.requested,
                    ignore_windows=options.ignore_windows,
                    policy=RunPolicy(run_id=options.run_id),
                )
                result = await (
                    sending()
                    if watcher is None
                    else _send_and_watch(
                        sending, watcher, journal, plan, stop, generation=generation
                    )
                )
        if result is None:  # cut short: what this run really did, and the journal's counts
            result = _interrupted(plan, journal, stats, clock.now() - started)
        if guard is not None and guard.found_days:
            notes.append(
                f"{guard.found_days} days were already rerun on the server (since "
                f"{guard.since:%Y-%m-%d %H:%M}), not sent again; --rerun-succeeded reruns them"
            )
        if guard is not None and guard.unanswered_jobs:
            notes.append(
                f"{guard.unanswered_jobs} jobs were not sent: GetJobInstanceList did not answer "
                "whether their days were already rerun; run again to resume"
            )
        return result


async def _start_watch(
    plan: Plan,
    journal: Journal,
    options: _Options,
    *,
    reconciler: Reconciler,
    client: SchedulerXClient,
    retries: Pacer,
    generation: int,
    notes: list[str],
) -> InstanceWatcher:
    """The run's watcher; with --retry-failed, first retry failed instances in place."""
    if options.retry_failed:
        retried = await retry_failed_instances(
            client, journal, plan, acquire=retries.acquire, generation=generation
        )
        if retried:
            notes.append(f"{retried} failed or rejected instances retried in place")
    share = options.read_rate.per_second * WATCH_SHARE
    return InstanceWatcher(
        reconciler,
        journal,
        plan,
        generation=generation,
        appear_seconds=options.appear_seconds,
        min_poll=options.watch_poll,
        max_poll=max(options.watch_poll, MAX_WATCH_POLL),
        acquire=RateLimiter(share).acquire,
    )


async def _send_and_watch(
    sending: Callable[[], Awaitable[RunResult]],
    watcher: InstanceWatcher,
    journal: Journal,
    plan: Plan,
    stop: anyio.Event,
    *,
    generation: int,
) -> RunResult:
    """Send, and meanwhile follow every accepted day's instance to its end; return when
    both are done. A stop ends the watch at once (the next run picks it up) but lets the
    sending finish its calls in flight."""
    sending_done, watched = anyio.Event(), anyio.Event()
    watch_scope = anyio.CancelScope()

    finished: list[bool] = []

    async def watch() -> None:
        with watch_scope:
            await watcher.run(sending_done)
            finished.append(True)
        watched.set()

    async def stop_watching() -> None:
        await stop.wait()
        watch_scope.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        tg.start_soon(stop_watching)
        try:
            result = await sending()
        finally:
            sending_done.set()
            if stop.is_set():
                watch_scope.cancel()
        await watched.wait()
        tg.cancel_scope.cancel()
    counts = await journal_read(
        journal, instance_counts, journal, plan, generation=generation, since=watcher.since
    )
    # A watch cut short by a signal is a stop (exit 130); by a halt, the halt says why.
    cut_short = not finished and result.halted is None
    watched_result = dataclasses.replace(
        result, instances=dict(counts), stopped=result.stopped or cut_short
    )
    if finished:  # a stopped run ends with rerun.run.finished, as before
        watcher.events.emit(WatchFinished(dict(counts), watched_result.exit_code))
    return watched_result


async def _credentials(profile: str | None) -> tuple[CredentialsProvider, Credentials]:
    """The default chain, resolved now, so that a missing key refuses before any send."""
    try:
        provider = default_credentials_provider(profile=profile)
        return provider, await provider.get_credentials()
    except CredentialsError as exc:
        raise _UsageError(str(exc)) from None


async def _start_simulator(
    plan: Plan, options: _Options, stack: AsyncExitStack
) -> tuple[CredentialsProvider, Credentials, str]:
    """Start the in-process simulator that knows the plan's jobs; throwaway credentials."""
    from ._simulate import simulator_for  # noqa: PLC0415 the simulator only loads for --simulate

    credentials = Credentials("sim-" + secrets.token_hex(8), secrets.token_urlsafe(24))
    quota = options.simulate_quota or plan.execution.rate
    simulator = simulator_for(plan, credentials, quota)
    url = await simulator.start("127.0.0.1", 0)
    stack.push_async_callback(simulator.stop)
    _log.info("rerun.simulator.started", url=url, quota=str(quota))
    return StaticCredentialsProvider(credentials), credentials, url


def _stopped_before_start(log_format: str) -> int:
    message = "stopped before anything was sent: run the same command again to start"
    if log_format == "json":
        _log.warning("rerun.run.stopped", reason=message)
    else:
        with contextlib.suppress(OSError):  # a closed console: the exit code still says it
            print(f"rerun-orchestrator run: {message}", file=sys.stderr)
    return ExitCode.INTERRUPTED


def _interrupted(plan: Plan, journal: Journal, stats: RunStats, elapsed: float) -> RunResult:
    """A run cut short (a forced stop, a stop during start-up): the plan as the journal
    holds it, and what this run really did before it was cut (calls sent, seconds)."""
    journal.flush()
    counts = plan_counts(journal, plan)
    return RunResult(
        plan=plan.name,
        counts=chunk_counts(counts),
        days=day_counts(counts),
        covered_by=dict(counts.days_by_plan),
        attempts=stats.attempts,
        retries=stats.retries,
        throttled=stats.throttled,
        reconciled=stats.reconciled,
        undecided=stats.undecided,
        stopped=True,
        elapsed_seconds=elapsed,
        halted=stats.halted,
    )


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
