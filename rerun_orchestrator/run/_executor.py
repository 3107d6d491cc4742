"""The executor: a loaded plan, a client and a journal in; every chunk settled out.

Shape (aiometer's, with per-job streams): a producer walks `plan.chunks()` lazily and cuts
it into job streams (`_streams`); `concurrency` workers each take the next stream and send
its chunks one after another (`per_job_concurrency` lanes, 1 by default) through the
shared `ChunkRunner`. Every call passes one concurrency slot and one token of the rate
limiter, which is shared by every run on the same account in this process. Memory stays
bounded by the workers' streams, whatever the plan's size.

The run is anyio-structured: cancelling the caller's cancel scope stops it at once (a hard
stop; chunks caught in flight are reconciled by the next run), setting `stop` stops it
gracefully (no new call; calls in flight finish and are recorded).
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._clock import Clock, SystemClock
from ..journal._model import ChunkRecord
from ..journal._store import Journal
from ..plan._plan import Plan
from ._adaptive import AdaptiveLimiter
from ._backoff import Backoff, RetryBudget
from ._chunk import ChunkReconciler, ChunkRunner, RerunClient
from ._concurrency import ConcurrencyLimiter, KeyedLimiter
from ._events import EventSink, RunEvent, RunFinished, RunStarted, StopRequested
from ._limiter import Pacer, shared_limiters
from ._result import RunResult, RunStats
from ._stop import StoppedError, StopSignal
from ._streams import JobStream, job_streams

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

    journal.sync(plan.chunks())
    for status, count in journal.counts(plan_only=True).items():
        live.by_status[status] += count
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
    try:
        await _dispatch(plan, runner, signal, events)
    finally:
        journal.flush()
    result = RunResult(
        plan=plan.name,
        counts=RunStats(by_status=journal.counts(plan_only=True)).counts(),
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


async def _dispatch(plan: Plan, runner: ChunkRunner, signal: StopSignal, events: EventSink) -> None:
    execution = plan.execution
    jobs = KeyedLimiter(execution.per_job_concurrency)
    send, receive = anyio.create_memory_object_stream[JobStream](0)

    async def watch_stop() -> None:
        await signal.event.wait()
        why = runner.stats.halted or "stop requested"
        events.emit(StopRequested(f"{why}; no new calls; calls in flight finish"))
        signal.cancel_waits()

    async def produce(send: MemoryObjectSendStream[JobStream]) -> None:
        async with send:
            for stream in job_streams(plan.chunks(), execution.order):
                if signal.is_set:
                    return
                try:
                    with signal.waiting():
                        await send.send(stream)
                except StoppedError:
                    return

    async def work(receive: MemoryObjectReceiveStream[JobStream]) -> None:
        async with receive:
            async for stream in receive:
                await _run_stream(stream, runner, jobs, signal)

    async with anyio.create_task_group() as outer:
        outer.start_soon(watch_stop)
        async with anyio.create_task_group() as tg:
            tg.start_soon(produce, send)
            for _ in range(execution.concurrency):
                tg.start_soon(work, receive.clone())
            receive.close()
        outer.cancel_scope.cancel()  # the work is done; stop watching for a stop


async def _run_stream(
    stream: JobStream, runner: ChunkRunner, jobs: KeyedLimiter, signal: StopSignal
) -> None:
    records = runner.journal.records_for(chunk.key for chunk in stream.chunks)
    todo = [record for record in records if record is not None and runner.needs_work(record)]
    # a resumed plan may skip thousands of settled chunks without awaiting anything
    await anyio.lowlevel.checkpoint()
    if not todo:
        return
    pending = iter(todo)

    async def lane() -> None:
        for record in pending:  # lanes share the iterator: chunks still start in order
            if not await _run_one(record, stream, runner, jobs, signal):
                return

    lanes = min(jobs.limit, len(todo))
    if lanes == 1:
        await lane()
        return
    async with anyio.create_task_group() as tg:
        for _ in range(lanes):
            tg.start_soon(lane)


async def _run_one(
    record: ChunkRecord,
    stream: JobStream,
    runner: ChunkRunner,
    jobs: KeyedLimiter,
    signal: StopSignal,
) -> bool:
    """Settle one chunk under its job's cap; False once a stop has been requested."""
    if signal.is_set:
        return False
    if not jobs.try_acquire(stream.job):
        try:
            with signal.waiting():
                await jobs.acquire(stream.job)
        except StoppedError:
            return False
    try:
        await runner.run(record)
    except StoppedError:
        return False
    finally:
        jobs.release(stream.job)
    return not signal.is_set


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
