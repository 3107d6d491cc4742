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
import functools
import math
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from zoneinfo import ZoneInfo

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._clock import Clock, SystemClock
from ..journal._model import ChunkStatus
from ..journal._store import Journal
from ..journal._view import JobPlan, PlanCounts, plan_counts, plan_jobs
from ..plan._plan import Plan
from ._adaptive import AdaptiveLimiter
from ._backoff import Backoff, RetryBudget
from ._chunk import ChunkReconciler, ChunkRunner, RerunClient
from ._concurrency import ConcurrencyLimiter, KeyedLimiter
from ._events import EventSink, RunEvent, RunFinished, RunStarted, StopRequested
from ._jobs import DayGuard, JobDispatcher
from ._limiter import Pacer, shared_limiters
from ._result import RunResult, RunStats, StatusCounts
from ._stop import StoppedError, StopSignal

RERUN_JOB = "RerunJob"


async def run_plan(
    plan: Plan,
    *,
    client: RerunClient,
    journal: Journal,
    reconciler: ChunkReconciler | None = None,
    limiter: Pacer | None = None,
    account: str | None = None,
    concurrency: ConcurrencyLimiter | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    retry_failed: bool = False,
    on_event: Callable[[RunEvent], None] | None = None,
    stop: anyio.Event | None = None,
    budget: RetryBudget | None = None,
    backoff: Backoff | None = None,
    stats: RunStats | None = None,
    guard: DayGuard | None = None,
    generation: int = 0,
) -> RunResult:
    """Run `plan` until every chunk is settled (or a stop), and say how it went.

    Args:
        plan: a loaded plan; its `execution` gives rate, concurrency, max_attempts, order
            and per_job_concurrency.
        client: sends one RerunJob attempt per call (a `SchedulerXClient`).
        journal: durable chunk state; the plan is synced into it first. Not closed here.
        reconciler: settles ambiguous outcomes (a `journal.Reconciler`). Without one they
            end as unknown.
        limiter: the rate limiter; default an `AdaptiveLimiter` at the plan's rate, the
            one `shared_limiters` holds for `account` if that is given, so that several
            runs in one process share the account's quota.
        account: the quota holder (e.g. the AccessKey ID); see `limiter`.
        concurrency: a cap on calls in flight to share with other runs; default one of
            the plan's `concurrency`.
        clock, rng: time and jitter (tests inject `FakeClock` and a seeded Random).
        retry_failed: also resend chunks that failed permanently in an earlier run.
        on_event: called with every `RunEvent` (they are also logged with structlog).
        stop: set it to stop gracefully: nothing new is sent, calls in flight finish.
        budget, backoff: retry policy knobs (defaults: 10% of first attempts + 10, full
            jitter 1 s .. 20 s).
        stats: a `RunStats` to keep up to date (a progress display reads it).
        guard: checks days the journal never saw against the server before sending
            (`run._guard.ServerGuard`); without one they are sent.
        generation: 0, or the generation of a deliberate rerun (--rerun-succeeded): days
            covered only by earlier generations are sent again, once.

    Returns:
        A `RunResult`; its `exit_code` is the CLI's.

    Cancelling the surrounding cancel scope stops the run at once; the journal stays
    consistent (chunks in flight are reconciled by the next run).
    """
    clock = clock or SystemClock()
    execution = plan.execution
    started = clock.now()
    pacer = limiter or _default_pacer(plan, account, clock)
    events = EventSink(on_event)
    signal = StopSignal(stop)
    live = stats if stats is not None else RunStats()

    # The plan's own cut as a first guess, corrected job by job as each is read.
    live.by_status[ChunkStatus.PENDING] += plan.count_chunks()
    runner = ChunkRunner(
        client=client,
        journal=journal,
        reconciler=reconciler,
        pacer=pacer,
        slots=concurrency or ConcurrencyLimiter(execution.concurrency),
        budget=budget or RetryBudget(),
        backoff=backoff or Backoff(),
        rng=rng or random.Random(),
        clock=clock,
        events=events,
        stop=signal,
        stats=live,
        max_attempts=execution.max_attempts,
        retry_failed=retry_failed,
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
        guard=guard,
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
        stopped=signal.is_set and live.halted is None,
        elapsed_seconds=clock.now() - started,
        halted=live.halted,
    )
    events.emit(RunFinished(result))
    return result


def _default_pacer(plan: Plan, account: str | None, clock: Clock) -> Pacer:
    def build() -> Pacer:
        return AdaptiveLimiter(plan.execution.rate, clock=clock)

    return shared_limiters.get(account, RERUN_JOB, build) if account else build()


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
                # a resumed plan may skip thousands of settled jobs without awaiting
                await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as outer:
        outer.start_soon(watch_stop)
        async with anyio.create_task_group() as tg:
            tg.start_soon(produce, send)
            for _ in range(execution.concurrency):
                tg.start_soon(work, receive.clone())
            receive.close()
        outer.cancel_scope.cancel()  # the work is done; stop watching for a stop


@asynccontextmanager
async def open_run(
    plan: Plan, **options: Any
) -> AsyncIterator[MemoryObjectReceiveStream[RunEvent]]:
    """`run_plan` as an async iterator of its events (the last is `RunFinished`).

    ::

        async with open_run(plan, client=client, journal=journal) as events:
            async for event in events:
                ...

    Takes `run_plan`'s keyword arguments except `on_event`. Leaving the block before the
    run has finished stops it at once (as a cancel would); the journal stays consistent.
    Events are buffered without bound, so iterate promptly.
    """
    if "on_event" in options:
        raise TypeError("open_run delivers the events itself; do not pass on_event")
    send, receive = anyio.create_memory_object_stream[RunEvent](math.inf)

    def deliver(event: RunEvent) -> None:
        # once the caller has left the block the run is being cancelled: drop the rest
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            send.send_nowait(event)

    async def run() -> None:
        async with send:
            await run_plan(plan, on_event=deliver, **options)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        try:
            async with receive:
                yield receive
        finally:
            tg.cancel_scope.cancel()
