"""Sending and watching side by side: the run's two halves, and what runs beside them.

`send_and_watch` sends the plan while the watcher follows every accepted day's instance
to its end; beside the watcher run the retrier of days rejected for lack of capacity and,
on a shared journal, the capacity's follower of the ends other replicas record
(`alongside`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from ..plan import Plan
from ._events import WatchFinished
from ._neighbour import Neighbour
from ._offloop import is_remote, journal_read
from ._rejected import RejectedRetrier
from ._result import RunResult
from ._watch import InstanceWatcher, instance_counts

if TYPE_CHECKING:
    from ..journal import Journal


def alongside(
    neighbour: Neighbour,
    retrier: RejectedRetrier | None,
    journal: Journal,
    watcher: InstanceWatcher,
) -> list[Callable[[], Coroutine[Any, Any, None]]]:
    """What runs beside the watcher: the retrier, and on a shared journal the capacity's
    follower of the ends that other replicas' watchers record."""
    tasks: list[Callable[[], Coroutine[Any, Any, None]]] = [] if retrier is None else [retrier.run]
    if is_remote(journal) and neighbour.capacity is not None:
        tasks.append(functools.partial(neighbour.follow, journal, watcher.min_poll))
    return tasks


async def send_and_watch(
    sending: Callable[[], Awaitable[RunResult]],
    watcher: InstanceWatcher,
    journal: Journal,
    plan: Plan,
    stop: anyio.Event,
    *,
    generation: int,
    also: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
) -> RunResult:
    """Send, and meanwhile follow every accepted day's instance to its end (and run the
    tasks `also`: retry the days rejected for lack of capacity, follow the ends other
    replicas record); return when all is done. A stop ends the watch at once (the next
    run picks it up) but lets the sending finish its calls in flight."""
    sending_done, watched = anyio.Event(), anyio.Event()
    watch_scope = anyio.CancelScope()

    finished: list[bool] = []

    async def watch() -> None:
        with watch_scope:
            async with anyio.create_task_group() as alongside:
                for task in also:
                    alongside.start_soon(task)
                await watcher.run(sending_done)
                alongside.cancel_scope.cancel()
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


__all__ = ["alongside", "send_and_watch"]
