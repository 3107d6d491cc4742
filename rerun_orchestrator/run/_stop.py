"""Graceful stop: stop dispatching, never interrupt a call that is on the wire.

A run waits in many places before a call goes out (a concurrency slot, a rate token, a
backoff, a job's turn, a reconciliation's settle time). A graceful stop must end all of
those at once, yet let a call already sent finish and be recorded, so that the journal
says what happened rather than "in flight". Each wait runs inside `StopSignal.waiting()`, a
cancel scope that the stop cancels; the send-and-record section runs outside any such scope.
A hard stop is the caller's own cancel scope around the run: it cancels everything, and the
chunks it catches in flight are reconciled by the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
from collections.abc import Awaitable, Callable
from types import FrameType, TracebackType
from typing import Any

import anyio
import structlog

STOP_GRACE_SECONDS = 30.0  # what calls on the wire get to finish after the first signal

_log = structlog.get_logger("rerun_orchestrator.cli")


class StoppedError(Exception):
    """A wait was ended by a graceful stop; the chunk stays as the journal has it."""


class StopSignal:
    """Wraps the caller's `anyio.Event` (or a new one) and the waits it must cut short."""

    def __init__(
        self, event: anyio.Event | None = None, *, requested: Callable[[], bool] | None = None
    ) -> None:
        self.event = event or anyio.Event()
        self._requested = requested
        self._scopes: set[anyio.CancelScope] = set()

    @property
    def is_set(self) -> bool:
        return self.event.is_set() or (self._requested is not None and self._requested())

    def set(self) -> None:
        self.event.set()
        self.cancel_waits()

    def cancel_waits(self) -> None:
        for scope in list(self._scopes):
            scope.cancel()

    def waiting(self) -> _Waiting:
        """``with stop.waiting():`` runs a wait that a stop may cut short; raises
        `StoppedError` if it did."""
        return _Waiting(self)

    async def sleep(self, clock_sleep: Callable[[float], Awaitable[None]], seconds: float) -> None:
        """`clock_sleep(seconds)`, cut short by a stop (`StoppedError`)."""
        with self.waiting():
            await clock_sleep(seconds)


class _Waiting:
    """The cancel scope of one wait, registered with its `StopSignal` while it lasts."""

    __slots__ = ("_scope", "_signal")

    def __init__(self, signal: StopSignal) -> None:
        self._signal = signal
        self._scope = anyio.CancelScope()

    def __enter__(self) -> None:
        if self._signal.is_set:
            self._scope.cancel()
        self._signal._scopes.add(self._scope)
        self._scope.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self._signal._scopes.discard(self._scope)
        swallowed = self._scope.__exit__(exc_type, exc, tb)
        if self._scope.cancelled_caught:
            raise StoppedError
        return bool(swallowed)


class StopRequests:
    """SIGINT/SIGTERM handlers for a command, installed before it does any work.

    The first signal asks for a graceful stop and says how to force one; the second forces
    it. Until the event loop runs (`attach`), a signal is only counted, so start-up work
    checks `requested` (and a blocking sync sees it through `StopSignal.guard`); once the
    loop runs, the callbacks given to `attach` are scheduled on it, thread-safely.
    """

    HINT = (
        b"stopping: calls in flight finish and are recorded; press Ctrl-C again to stop at once\n"
    )

    def __init__(self, *, announce: bool = True) -> None:
        self._announce = announce  # write HINT on stderr (not when stderr carries JSON lines)
        self.count = 0
        self._numbers = itertools.count(1)
        self.last: signal.Signals | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_first: Callable[[], None] | None = None
        self._on_second: Callable[[], None] | None = None
        self._saved: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.count > 0

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._saved[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
        self._saved.clear()
        self._loop = None

    def attach(self, on_first: Callable[[], None], on_second: Callable[[], None]) -> None:
        """From inside the running loop: what the first and the second signal do."""
        self._loop = asyncio.get_running_loop()
        self._on_first, self._on_second = on_first, on_second
        if self.count:
            self._loop.call_soon_threadsafe(on_first)
        if self.count > 1:
            self._loop.call_soon_threadsafe(on_second)

    def obey(
        self, stop: anyio.Event, run_scope: anyio.CancelScope, *, grace: float = STOP_GRACE_SECONDS
    ) -> None:
        """From inside the running loop: the first signal sets `stop` and gives `run_scope`
        `grace` seconds; the second cancels it at once."""

        def graceful() -> None:
            _log.warning(
                "rerun.stop.signal",
                signal=self.last.name if self.last else None,
                grace_seconds=grace,
                hint="press Ctrl-C again (or send the signal again) to stop at once",
            )
            stop.set()
            run_scope.deadline = anyio.current_time() + grace

        def forced() -> None:
            _log.warning("rerun.stop.forced", signal=self.last.name if self.last else None)
            run_scope.cancel()

        self.attach(graceful, forced)

    def request(self, signum: signal.Signals) -> None:
        """A stop the program asks for itself (its console closed, its log file failed):
        obeyed as a first signal; never a second one, so calls in flight are recorded."""
        if self.count == 0:
            self._handle(signum, None)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        # next() on a C iterator is atomic: a second signal landing inside this handler
        # (re-entered at a bytecode boundary) still gets its own number
        n = next(self._numbers)
        self.count = max(self.count, n)
        self.last = signal.Signals(signum)
        if n == 1 and self._announce:
            # os.write: the only output that is safe inside a signal handler
            with contextlib.suppress(OSError):
                os.write(2, self.HINT)
        callback = self._on_first if n == 1 else self._on_second
        if self._loop is not None and callback is not None:
            self._loop.call_soon_threadsafe(callback)
