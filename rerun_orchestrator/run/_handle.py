"""A run handle: start a run in the background, watch it, stop it, await its result.

A service runs many backfills at once and answers requests about them; it should not
hand-roll a task group, an event fan-out and a stop protocol per run. `start_run` starts
`run_plan` in a task group (yours, or the handle's own with ``async with``) and returns a
`RunHandle`:

    async with anyio.create_task_group() as tg:          # the service's, long-lived
        run = start_run(plan, wiring, task_group=tg)
        ...
        run.stats.counts()                                # live figures, any time
        async with run.events() as events:                # from now on; ends with the run
            async for event in events: ...
        run.stop()                                        # graceful: calls in flight finish
        result = await run.result()

A run that fails (a journal lost under it, a bug) does not take the task group down: its
exception is raised by `result()`.
"""

from __future__ import annotations

import dataclasses
import math
from types import TracebackType
from typing import Unpack

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._clock import SystemClock
from ..plan._plan import Plan
from ._adaptive import AdaptiveLimiter
from ._events import RunEvent
from ._executor import resolve_account, run_plan
from ._limiter import Pacer
from ._options import LegacyOptions, RunPolicy, RunWiring, merge_options
from ._result import RunResult, RunStats


class RunCancelledError(Exception):
    """`result()` of a run that was cancelled (`cancel()`) before it finished."""


class RunHandle:
    """One run started by `start_run`: its id, live figures, events, stop, result."""

    def __init__(self, plan: Plan, wiring: RunWiring, policy: RunPolicy) -> None:
        self.plan = plan
        self.run_id: str = policy.run_id or ""  # set by merge_options
        self.stats: RunStats = wiring.stats if wiring.stats is not None else RunStats()
        self._stop = wiring.stop or anyio.Event()
        self._also = wiring.on_event
        self._wiring = dataclasses.replace(
            wiring, stats=self.stats, stop=self._stop, on_event=self._deliver
        )
        self._policy = policy
        self._scope = anyio.CancelScope()
        self._done = anyio.Event()
        self._result: RunResult | None = None
        self._error: BaseException | None = None
        self._readers: list[MemoryObjectSendStream[RunEvent]] = []
        self._own_group: TaskGroup | None = None
        self._pacer: Pacer | None = None

    # -- control -----------------------------------------------------------------------

    def stop(self) -> None:
        """Stop gracefully: nothing new is sent; calls in flight finish and are recorded."""
        self._stop.set()

    def cancel(self) -> None:
        """Stop at once; chunks caught in flight are reconciled by the next run."""
        self._scope.cancel()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    async def result(self) -> RunResult:
        """Wait for the run's end; its `RunResult`.

        Raises:
            RunCancelledError: `cancel()` ended it first.
            Exception: whatever ended the run (say a `JournalError`).
        """
        await self._done.wait()
        if self._error is not None:
            raise self._error
        if self._result is None:
            raise RunCancelledError(f"run {self.run_id} of {self.plan.name} was cancelled")
        return self._result

    # -- watching ----------------------------------------------------------------------

    @property
    def rate(self) -> float | None:
        """RerunJob calls per second the run's pacer permits now (None before it starts)."""
        return None if self._pacer is None else self._pacer.rate

    def events(self) -> MemoryObjectReceiveStream[RunEvent]:
        """Every event from now on; the stream ends after `RunFinished` (or a cancel).

        Use it as ``async with run.events() as events: async for event in events``; each
        call is a reader of its own. Events are buffered without bound: read promptly.
        """
        send, receive = anyio.create_memory_object_stream[RunEvent](math.inf)
        if self.done:
            send.close()
        else:
            self._readers.append(send)
        return receive

    def _deliver(self, event: RunEvent) -> None:
        if self._also is not None:
            self._also(event)
        for reader in list(self._readers):
            try:
                reader.send_nowait(event)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._readers.remove(reader)  # that reader went away

    # -- running -----------------------------------------------------------------------

    def _start_in(self, task_group: TaskGroup) -> None:
        task_group.start_soon(self._run, name=f"rerun {self.plan.name} {self.run_id}")

    async def _run(self) -> None:
        try:
            with self._scope:
                wiring = self._wiring
                clock = wiring.clock or SystemClock()
                if wiring.limiter is None and resolve_account(wiring, clock) is None:
                    # the run's own pacer, made here so that `rate` can read it
                    wiring = dataclasses.replace(
                        wiring, limiter=AdaptiveLimiter(self.plan.execution.rate, clock=clock)
                    )
                account = resolve_account(wiring, clock)
                self._pacer = wiring.limiter or (account.rerun if account else None)
                self._result = await run_plan(self.plan, wiring, self._policy)
        except Exception as exc:  # the run's failure is its result, not the task group's
            self._error = _unwrap(exc)
        finally:
            self._done.set()  # first: a reader that sees its stream end may ask for the result
            for reader in self._readers:
                reader.close()
            self._readers.clear()

    async def __aenter__(self) -> RunHandle:
        if self._own_group is not None or self.done:
            raise RuntimeError("this run handle was already started")
        group = anyio.create_task_group()
        await group.__aenter__()
        self._own_group = group
        self._start_in(group)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        """Leaving the block waits for the run; an error in the block cancels it first."""
        group, self._own_group = self._own_group, None
        assert group is not None
        if exc is not None:
            self.cancel()
        return await group.__aexit__(exc_type, exc, tb)


def _unwrap(exc: Exception) -> Exception:
    """The one exception inside nested task groups' groups (the run's own tasks)."""
    while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def start_run(
    plan: Plan,
    wiring: RunWiring | None = None,
    policy: RunPolicy | None = None,
    *,
    task_group: TaskGroup | None = None,
    **legacy: Unpack[LegacyOptions],
) -> RunHandle:
    """Start `run_plan` in `task_group` and return its handle; without a task group, use
    the handle as ``async with start_run(...) as run:`` (the block waits for the run).

    Takes `run_plan`'s arguments (`RunWiring`, `RunPolicy`, or the old keywords).
    """
    wiring, policy = merge_options(wiring, policy, legacy)
    handle = RunHandle(plan, wiring, policy)
    if task_group is not None:
        handle._start_in(task_group)
    return handle


__all__ = ["RunCancelledError", "RunHandle", "start_run"]
