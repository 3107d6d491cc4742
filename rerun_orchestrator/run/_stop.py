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

from collections.abc import Awaitable, Callable
from types import TracebackType

import anyio


class StoppedError(Exception):
    """A wait was ended by a graceful stop; the chunk stays as the journal has it."""


class StopSignal:
    """Wraps the caller's `anyio.Event` (or a new one) and the waits it must cut short."""

    def __init__(self, event: anyio.Event | None = None) -> None:
        self.event = event or anyio.Event()
        self._scopes: set[anyio.CancelScope] = set()

    @property
    def is_set(self) -> bool:
        return self.event.is_set()

    def set(self) -> None:
        self.event.set()
        self.cancel_waits()

    def cancel_waits(self) -> None:
        for scope in list(self._scopes):
            scope.cancel()

    async def watch(self) -> None:
        """Run in the run's task group: when the event fires, cut every wait short."""
        await self.event.wait()
        self.cancel_waits()

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
