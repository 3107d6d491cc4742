"""One `run` session inside the event loop: connect, pre-flight, send and watch.

`execute` is what `cli/_run_command.py` runs under `anyio.run`: it starts the simulator or resolves
credentials, runs the pre-flight, builds the good-neighbour gates from the plan and the
pre-flight's facts (`_neighbour`), starts the watcher (which gives capacity back as
instances end and retries rejected days in place) and calls `run_plan`.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
import sys
from collections.abc import Mapping
from contextlib import AsyncExitStack, nullcontext
from typing import TYPE_CHECKING

import anyio
import structlog
from rich.console import Console

from .._clock import SystemClock
from ..journal._view import plan_counts
from ..plan import Plan
from ..plan._model import Rate
from ..preflight import JournalCache, preflight_before_run
from ..schedulerx import (
    AiohttpTransport,
    Credentials,
    CredentialsError,
    CredentialsProvider,
    SchedulerXClient,
    StaticCredentialsProvider,
    default_credentials_provider,
    pool_size,
)
from ._adaptive import AdaptiveLimiter
from ._events import EventSink
from ._executor import RERUN_JOB, chunk_counts, day_counts, run_plan
from ._guard import ServerGuard
from ._ledger_options import rerun_generation
from ._limiter import Pacer, RateLimiter, shared_limiters
from ._neighbour import Neighbour, NeighbourError, build_neighbour
from ._offloop import journal_read, journal_write
from ._options import RunPolicy
from ._progress import LiveProgress
from ._reconcile import Reconciler
from ._rejected import RejectedRetrier
from ._result import RunResult, RunStats
from ._retry_instances import retry_failed_instances
from ._run_options import RunOptions, UsageError
from ._send_watch import alongside, send_and_watch
from ._separation import separation_for
from ._shared_pacer import close_off_loop, shared_pacer_for
from ._stop import STOP_GRACE_SECONDS, StoppedError, StopRequests
from ._watch import InstanceWatcher

if TYPE_CHECKING:
    from ..journal import Journal
    from ..journal._model import JobFactsEntry, JobIdentity

# GetJobInstanceList has its own quota: 100 calls per minute per account, like RerunJob.
READ_API = "GetJobInstanceList"
RETRY_API = "RetryJobInstance"
# Listings the watcher may start per read-quota call: a listing is at least two pages (the
# end is proven by an empty page), so 0.3 spends about 60% of GetJobInstanceList's quota
# and leaves the rest to reconciliation and the guard.
WATCH_SHARE = 0.3
MAX_WATCH_POLL = 300.0
# Under caps a slot is free only once the watcher has seen its instance end: a job's polls
# back off no further than this.
MAX_CAPPED_POLL = 60.0
MIN_CAPPED_POLL = 0.5  # paced by the watcher's share of the read quota all the same

_log = structlog.get_logger("rerun_orchestrator.cli")


def _account_pacers(
    journal: Journal, account: str, plan: Plan, read_rate: Rate, stack: AsyncExitStack
) -> tuple[Pacer, Pacer, Pacer]:
    """The account's RerunJob, read and RetryJobInstance pacers.

    A PostgreSQL journal shares the account's quota with every replica through the
    database; otherwise the pacers are this process's. Shared pacers are closed (their
    worker thread stopped) as `stack` unwinds.
    """

    def rerun_pacer() -> Pacer:
        shared = shared_pacer_for(journal, account, RERUN_JOB, plan.execution.rate)
        return shared or AdaptiveLimiter(plan.execution.rate)

    def read_pacer() -> Pacer:
        shared = shared_pacer_for(journal, account, READ_API, read_rate, adaptive=False)
        return shared or RateLimiter(read_rate)

    pacer = shared_limiters.get(account, RERUN_JOB, rerun_pacer)
    reads = shared_limiters.get(account, READ_API, read_pacer)
    retries = shared_limiters.get(account, RETRY_API, read_pacer)
    stack.push_async_callback(close_off_loop, pacer, reads, retries)
    return pacer, reads, retries


async def execute(
    plan: Plan, journal: Journal, options: RunOptions, notes: list[str], requests: StopRequests
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

        pacer, reads, retries = _account_pacers(journal, account, plan, options.read_rate, stack)
        reconciler = Reconciler(
            client,
            timezone=plan.timezone,
            acquire=reads.acquire,
            settle_seconds=options.settle_seconds,
            clock_skew_seconds=options.clock_skew,
        )
        guard = None
        # --simulate starts a new, empty simulator: nothing could be found on it.
        if options.lookback_seconds > 0 and not options.rerun_succeeded and not options.simulate:
            guard = ServerGuard(
                reconciler, journal, plan.name, plan.timezone, options.lookback_seconds
            )
        generation = (
            await journal_write(journal, rerun_generation, plan, journal)
            if options.rerun_succeeded
            else 0
        )
        stats = RunStats()
        result: RunResult | None = None
        watcher = (
            await _start_watch(
                plan,
                journal,
                options,
                reconciler=reconciler,
                client=client,
                retries=retries,
                generation=generation,
                notes=notes,
            )
            if options.watch
            else None
        )
        if guard is not None and watcher is not None:
            guard.reading = watcher.reading  # one look-up per job once it is known
        neighbour, retrier = _good_neighbour(
            plan,
            await journal_read(journal, journal.job_facts),
            options,
            clock,
            notes,
            watcher=watcher,
            client=client,
            retries=retries,
            journal=journal,
        )
        stack.push_async_callback(close_off_loop, neighbour.shared)  # its worker thread
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
                    policy=RunPolicy(
                        run_id=options.run_id,
                        separation=separation_for(options.clock_skew, options.settle_seconds),
                    ),
                    capacity=neighbour.capacity,
                    gates=neighbour.gates,
                )
                result = await (
                    sending()
                    if watcher is None
                    else send_and_watch(
                        sending,
                        watcher,
                        journal,
                        plan,
                        stop,
                        generation=generation,
                        also=alongside(neighbour, retrier, journal, watcher),
                    )
                )
        if result is None:  # cut short: what this run really did, and the journal's counts
            took = clock.now() - started
            result = await journal_write(journal, interrupted, plan, journal, stats, took)
        notes.extend(_closing_notes(retrier, guard))
        return result


def _closing_notes(retrier: RejectedRetrier | None, guard: ServerGuard | None) -> list[str]:
    notes = []
    if retrier is not None and retrier.retried:
        notes.append(f"{retrier.retried} days rejected for lack of capacity were retried in place")
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
    return notes


def _good_neighbour(
    plan: Plan,
    facts: Mapping[JobIdentity, JobFactsEntry],
    options: RunOptions,
    clock: SystemClock,
    notes: list[str],
    *,
    watcher: InstanceWatcher | None,
    client: SchedulerXClient,
    retries: Pacer,
    journal: Journal,
) -> tuple[Neighbour, RejectedRetrier | None]:
    """The caps and the production-first gate, from the plan and the facts the pre-flight
    recorded in the journal (an earlier run's, with --no-preflight); the watcher gives
    capacity back and offers rejected days to the retrier. A shared journal's group
    slots make the group caps count every replica's instances."""
    slots = getattr(journal, "group_slots", None)
    try:
        neighbour = build_neighbour(plan, facts, clock, watch=options.watch, slots=slots)
    except NeighbourError as exc:
        raise UsageError(str(exc)) from None
    notes.extend(neighbour.notes)
    capacity = neighbour.capacity
    retrier = None
    if watcher is not None:
        retrier = RejectedRetrier(
            client,
            journal,
            clock,
            capacity=capacity,
            durations=neighbour.durations,
            acquire=retries.acquire,
            shared=neighbour.shared,
        )
        neighbour.attach(watcher, retrier)
        if capacity is not None:  # a slot frees only once its end is seen: look often
            watcher.min_poll = min(options.watch_poll, MIN_CAPPED_POLL)
            watcher.max_poll = max(watcher.min_poll, MAX_CAPPED_POLL)
    _log.info(
        "rerun.neighbour",
        capped=capacity is not None,
        production_first=bool(neighbour.gates),
        group_caps=bool(capacity is not None and capacity.has_group_caps),
    )
    return neighbour, retrier


async def _start_watch(
    plan: Plan,
    journal: Journal,
    options: RunOptions,
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
        # the watch's events carry the run's id and plan, as the sending's do
        events=EventSink(run_id=options.run_id, plan=plan.name),
    )


async def _credentials(profile: str | None) -> tuple[CredentialsProvider, Credentials]:
    """The default chain, resolved now, so that a missing key refuses before any send."""
    try:
        provider = default_credentials_provider(profile=profile)
        return provider, await provider.get_credentials()
    except CredentialsError as exc:
        raise UsageError(str(exc)) from None


async def _start_simulator(
    plan: Plan, options: RunOptions, stack: AsyncExitStack
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


def interrupted(plan: Plan, journal: Journal, stats: RunStats, elapsed: float) -> RunResult:
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


__all__ = ["MAX_WATCH_POLL", "WATCH_SHARE", "execute", "interrupted"]
