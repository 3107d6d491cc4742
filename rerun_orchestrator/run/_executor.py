"""The executor: a loaded plan, a client and a journal in; every day settled out.

Shape (aiometer's, per job): a producer walks the plan's jobs lazily; `concurrency`
workers each take the next job, derive its chunks from the days the journal does not
cover (`_jobs`, `journal._view`) and send them one after another (`per_job_concurrency`
lanes, 1 by default) through the shared `ChunkRunner`. Every call passes one concurrency
slot and one token of the rate limiter, which is shared by every run on the same account
in this process. Nothing is written up front, and memory stays bounded by the workers'
jobs, whatever the plan's size.

The run is anyio-structured: cancelling the caller's cancel scope stops it at once (a hard
stop; chunks caught in flight are reconciled by the next run), setting `stop` stops it
gracefully (no new call; calls in flight finish and are recorded).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Unpack
from zoneinfo import ZoneInfo

import anyio
import structlog
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._clock import Clock, SystemClock
from .._metrics import RunMetrics
from ..journal._model import ChunkStatus
from ..journal._view import JobPlan, JobView, PlanCounts, plan_counts, plan_jobs
from ..plan._plan import Plan
from ._adaptive import AdaptiveLimiter
from ._admission import Gate
from ._backoff import Backoff, RetryBudget
from ._chunk import ChunkRunner
from ._concurrency import ConcurrencyLimiter, KeyedLimiter
from ._events import EventSink, RunEvent, RunFinished, RunStarted, StopRequested
from ._jobs import JobDispatcher
from ._limiter import Pacer
from ._neighbour import adopt_open_days
from ._options import LegacyOptions, RunPolicy, RunWiring, merge_options
from ._registry import Account, default_accounts
from ._result import RunResult, RunStats, StatusCounts
from ._separation import HELD_SHOWN, held_note
from ._stall import StallWatch
from ._stop import StoppedError, StopSignal
from ._streams import JobKey
from ._windows import WindowGate

RERUN_JOB = "RerunJob"


async def run_plan(
    plan: Plan,
    wiring: RunWiring | None = None,
    policy: RunPolicy | None = None,
    **legacy: Unpack[LegacyOptions],
) -> RunResult:
    """Run `plan` until every chunk is settled (or a stop), and say how it went.

    ::

        result = await run_plan(plan, RunWiring(client=client, journal=journal,
                                                account="LTAI...", reconciler=reconciler))

    Args:
        plan: a loaded plan; its `execution` gives rate, concurrency, max_attempts, order
            and per_job_concurrency.
        wiring: what the run talks to (`RunWiring`: client, journal, account, ...).
        policy: how it behaves (`RunPolicy`: retry_failed, generation, run_id, ...).
        legacy: the keyword arguments of the first release (``client=``, ``journal=``,
            ``retry_failed=`` ...), folded into `wiring` and `policy`; kept for one
            release.

    Returns:
        A `RunResult`; its `exit_code` is the CLI's.

    Every log event of the run carries ``run_id``, ``plan`` and ``account`` through
    structlog's contextvars. Cancelling the surrounding cancel scope stops the run at
    once; the journal stays consistent (chunks in flight are reconciled by the next run).
    """
    wiring, policy = merge_options(wiring, policy, legacy)
    stats = wiring.stats
    if stats is None:  # made here, so that the metrics read the run's own
        stats = RunStats()
        wiring = dataclasses.replace(wiring, stats=stats)
    clock = wiring.clock or SystemClock()
    account = resolve_account(wiring, clock)
    with contextlib.ExitStack() as held:
        pacer = wiring.limiter
        if pacer is None:
            if account is not None:
                pacer = held.enter_context(account.joined(plan.execution.rate))
            else:
                pacer = AdaptiveLimiter(plan.execution.rate, clock=clock)
        slots = wiring.concurrency or (account.slots if account is not None else None)
        held.enter_context(
            structlog.contextvars.bound_contextvars(
                run_id=policy.run_id,
                plan=plan.name,
                account=account.name if account is not None else None,
            )
        )
        metrics = RunMetrics(plan.name, account.name if account is not None else None)
        held.enter_context(metrics.live(stats, pacer))
        return await _run(
            plan, wiring, policy, clock=clock, pacer=pacer, slots=slots, metrics=metrics
        )
    raise AssertionError("unreachable")  # pragma: no cover - mypy: ExitStack may swallow


def resolve_account(wiring: RunWiring, clock: Clock) -> Account | None:
    """The wiring's account as an `Account` (a name is looked up in its registry)."""
    if wiring.account is None or isinstance(wiring.account, Account):
        return wiring.account
    return (wiring.accounts or default_accounts).get(wiring.account, clock=clock)


async def _run(
    plan: Plan,
    wiring: RunWiring,
    policy: RunPolicy,
    *,
    clock: Clock,
    pacer: Pacer,
    slots: ConcurrencyLimiter | None,
    metrics: RunMetrics,
) -> RunResult:
    execution = plan.execution
    journal = wiring.journal
    retry_failed, generation = policy.retry_failed, policy.generation
    started = clock.now()
    events = EventSink(wiring.on_event, run_id=policy.run_id or "", plan=plan.name, metrics=metrics)
    signal = StopSignal(wiring.stop, requested=wiring.stop_requested)
    live = wiring.stats if wiring.stats is not None else RunStats()

    # The plan's own cut as a first guess, corrected job by job as each is read.
    live.by_status[ChunkStatus.PENDING] += plan.count_chunks()
    runner = ChunkRunner(
        client=wiring.client,
        journal=journal,
        reconciler=wiring.reconciler,
        pacer=pacer,
        slots=slots or ConcurrencyLimiter(execution.concurrency),
        budget=policy.budget or RetryBudget(),
        backoff=policy.backoff or Backoff(),
        rng=wiring.rng or random.Random(),
        clock=clock,
        events=events,
        stop=signal,
        stats=live,
        max_attempts=execution.max_attempts,
        retry_failed=retry_failed,
        stall=StallWatch(clock, policy.stall_timeout),
        gates=_window_gates(plan, clock, events, live, ignore=policy.ignore_windows),
        separation=policy.separation,
    )
    before = live.counts()
    events.emit(
        RunStarted(
            plan=plan.name,
            total=before.total,
            succeeded=before.succeeded,
            failed=before.failed,
            unknown=before.unknown,
            pending=before.pending,
            rate=pacer.ceiling,
            concurrency=execution.concurrency,
            retry_failed=retry_failed,
        )
    )
    dispatcher = JobDispatcher(
        runner=runner,
        jobs=KeyedLimiter(execution.per_job_concurrency),
        signal=signal,
        zone=ZoneInfo(plan.timezone),
        plan_name=plan.name,
        timezone=plan.timezone,
        retry_failed=retry_failed,
        newest_first=execution.order == "newest_first",
        generation=generation,
        guard=wiring.guard,
        capacity=wiring.capacity,
        gates=wiring.gates,
        adopt=_adopter(wiring, clock),
    )
    try:
        await _dispatch(plan, dispatcher, signal, events)
    finally:
        with anyio.CancelScope(shield=True):  # a hard stop still records what came back
            await anyio.to_thread.run_sync(journal.flush)
    # one read per job: seconds for a plan of a million days, so off the loop
    counts = await anyio.to_thread.run_sync(
        functools.partial(plan_counts, journal, plan, generation=generation)
    )
    result = RunResult(
        plan=plan.name,
        counts=chunk_counts(counts),
        days=day_counts(counts),
        covered_by=dict(counts.days_by_plan),
        attempts=live.attempts,
        retries=live.retries,
        throttled=live.throttled,
        reconciled=live.reconciled,
        undecided=live.undecided,
        stopped=signal.is_set and live.halted is None,
        elapsed_seconds=clock.now() - started,
        halted=live.halted,
        notes=_notes(runner),
        held=len(live.held),
        held_by=tuple(list(live.held.items())[:HELD_SHOWN]),
    )
    events.emit(RunFinished(result))
    return result


def _notes(runner: ChunkRunner) -> tuple[str, ...]:
    """What else the run's summary says: locations stopped, chunks held back."""
    held = held_note(runner.stats.held)
    return (*runner.locations.notes(), *(() if held is None else (held,)))


def _adopter(wiring: RunWiring, clock: Clock) -> Callable[[JobView, JobKey], None] | None:
    """With caps, a job's instances still active from before hold its capacity."""
    capacity = wiring.capacity
    if capacity is None:
        return None
    journal = wiring.journal

    def adopt(view: JobView, key: JobKey) -> None:
        adopt_open_days(capacity, journal, view, key, clock.wall())

    return adopt


def _window_gates(
    plan: Plan, clock: Clock, events: EventSink, stats: RunStats, *, ignore: bool
) -> list[Gate]:
    windows = plan.execution.windows
    if ignore or not windows.windows:
        return []
    return [WindowGate(windows, ZoneInfo(plan.timezone), clock, events=events, stats=stats)]


def chunk_counts(counts: PlanCounts) -> StatusCounts:
    """The plan's chunks by the contract's states."""
    return RunStats(by_status=dict.fromkeys(ChunkStatus, 0) | dict(counts.chunks)).counts()


def day_counts(counts: PlanCounts) -> StatusCounts:
    """The plan's (job, day) pairs by the contract's states."""
    return RunStats(by_status=dict.fromkeys(ChunkStatus, 0) | dict(counts.days)).counts()


async def _dispatch(
    plan: Plan, dispatcher: JobDispatcher, signal: StopSignal, events: EventSink
) -> None:
    execution = plan.execution
    send, receive = anyio.create_memory_object_stream[JobPlan](0)

    async def watch_stop() -> None:
        await signal.event.wait()
        why = dispatcher.runner.stats.halted or "stop requested"
        events.emit(StopRequested(f"{why}; no new calls; calls in flight finish"))
        signal.cancel_waits()

    async def produce(send: MemoryObjectSendStream[JobPlan]) -> None:
        async with send:
            for job in plan_jobs(plan):
                if signal.is_set:
                    return
                try:
                    with signal.waiting():
                        await send.send(job)
                except StoppedError:
                    return

    async def work(receive: MemoryObjectReceiveStream[JobPlan]) -> None:
        async with receive:
            async for job in receive:
                await dispatcher.run(job)
                await dispatcher.run_due()  # parked jobs whose wait is over, in between
                # a resumed plan may skip thousands of settled jobs without awaiting
                await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as outer:
        outer.start_soon(watch_stop)
        async with anyio.create_task_group() as tg:
            tg.start_soon(produce, send)
            for _ in range(execution.concurrency):
                tg.start_soon(work, receive.clone())
            receive.close()
        # jobs parked by a separation, and those other replicas held (a shared journal)
        await dispatcher.run_later(execution.concurrency)
        outer.cancel_scope.cancel()  # the work is done; stop watching for a stop


@asynccontextmanager
async def open_run(
    plan: Plan,
    wiring: RunWiring | None = None,
    policy: RunPolicy | None = None,
    **legacy: Unpack[LegacyOptions],
) -> AsyncIterator[MemoryObjectReceiveStream[RunEvent]]:
    """`run_plan` as an async iterator of its events (the last is `RunFinished`).

    ::

        async with open_run(plan, RunWiring(client=client, journal=journal)) as events:
            async for event in events:
                ...

    Takes `run_plan`'s arguments; the wiring's `on_event`, if any, is called as well.
    Leaving the block before the run has finished stops it at once (as a cancel would);
    the journal stays consistent. Events are buffered without bound, so iterate promptly.
    `start_run` gives a handle with more (stop, cancel, live stats, several readers).
    """
    if "on_event" in legacy:
        raise TypeError("open_run delivers the events itself; do not pass on_event")
    wiring, policy = merge_options(wiring, policy, legacy)
    send, receive = anyio.create_memory_object_stream[RunEvent](math.inf)
    also = wiring.on_event

    def deliver(event: RunEvent) -> None:
        if also is not None:
            also(event)
        # once the caller has left the block the run is being cancelled: drop the rest
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            send.send_nowait(event)

    async def run() -> None:
        async with send:
            await run_plan(plan, dataclasses.replace(wiring, on_event=deliver), policy)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        try:
            async with receive:
                yield receive
        finally:
            tg.cancel_scope.cancel()
