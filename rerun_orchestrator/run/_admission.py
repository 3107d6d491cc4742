"""One admission interface: every limit a call must pass is a `Gate`, walked in one place.

The shape is aiometer's `Meter`: a gate says whether a ticket *can start* (and records that
it *started*), and hears when it has *finished*. A ticket carries its job and its weight
(the days of a chunk), so a gate may count instances rather than calls, and `finished` may
come from another task (an instance that ends long after its RerunJob call was answered).

Two lists are walked today: before a chunk (the job's lane, its instance capacity, the run
window) and before each attempt of it (the concurrency slot, then the rate token: a token
is taken last, so it is never spent while the caller still waits for a slot). `Admission`
walks a list in order, waits on the first gate that is shut (a stop cuts the wait short),
gives back what it took if a later gate's wait is cut short, and walks again if a gate no
longer admits once all were passed (a run window that closed meanwhile).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ._concurrency import ConcurrencyLimiter, KeyedLimiter
from ._limiter import Pacer
from ._stop import StopSignal
from ._streams import JobKey


@dataclass(frozen=True, slots=True)
class Ticket:
    """What asks to pass: a job's chunk (or one attempt of it) of `days` days."""

    job: JobKey
    days: int = 1


class Gate(Protocol):
    """A limit a ticket must pass (aiometer's Meter: can start / started / finished).

    A gate may admit fewer days than asked (a capacity gate cuts a chunk to what is free):
    it returns the ticket it admitted, and the next gate sees that one.
    """

    def try_start(self, ticket: Ticket) -> Ticket | None:
        """Admit `ticket` now if it can start (and record it started); never blocks."""
        ...

    async def start(self, ticket: Ticket) -> Ticket:
        """Wait until `ticket` can start, record it started, and return what was admitted."""
        ...

    def finished(self, ticket: Ticket) -> None:
        """The admitted `ticket` is done with what it holds here (may come from another task)."""
        ...

    def still_admits(self, ticket: Ticket) -> bool:
        """Checked once every gate has been passed: False sends the ticket round again (a
        window that closed while a later gate was awaited)."""
        ...


class Admission:
    """Walks its gates in order for each ticket; `enter` is all or nothing."""

    def __init__(self, gates: Sequence[Gate], signal: StopSignal) -> None:
        self._gates = tuple(gates)
        self._signal = signal

    @property
    def gates(self) -> tuple[Gate, ...]:
        return self._gates

    async def enter(self, ticket: Ticket) -> Pass:
        """Pass every gate, in order. Raises `StoppedError` if a stop cuts a wait short
        (the gates already passed are given back)."""
        while True:
            taken: list[tuple[Gate, Ticket]] = []
            admitted = ticket
            try:
                for gate in self._gates:
                    quick = gate.try_start(admitted)
                    if quick is None:
                        with self._signal.waiting():
                            admitted = await gate.start(admitted)
                    else:
                        admitted = quick
                    taken.append((gate, admitted))
            except BaseException:
                Pass(admitted, taken).release()
                raise
            passed = Pass(admitted, taken)
            if all(gate.still_admits(admitted) for gate in self._gates):
                return passed
            passed.release()  # what a gate gave was spent for nothing (a rate token)


class Pass:
    """What a ticket was admitted as (`ticket`, the last gate's cut) and the gates it
    holds; `release()` tells each it finished (once, newest first)."""

    __slots__ = ("_gates", "ticket")

    def __init__(self, ticket: Ticket, gates: list[tuple[Gate, Ticket]]) -> None:
        self.ticket = ticket
        self._gates = gates

    def keep(self, gate: Gate) -> None:
        """Hold `gate`'s share past `release()`: someone else gives it back later (the
        watcher, for the instances a call created)."""
        self._gates = [(held, ticket) for held, ticket in self._gates if held is not gate]

    def release(self) -> None:
        while self._gates:
            gate, ticket = self._gates.pop()
            gate.finished(ticket)


class SlotGate:
    """The run's cap on calls in flight (`ConcurrencyLimiter`), one slot per ticket."""

    def __init__(self, slots: ConcurrencyLimiter) -> None:
        self.slots = slots

    def try_start(self, ticket: Ticket) -> Ticket | None:
        return ticket if self.slots.try_acquire() else None

    async def start(self, ticket: Ticket) -> Ticket:
        await self.slots.acquire()
        return ticket

    def finished(self, ticket: Ticket) -> None:
        self.slots.release()

    def still_admits(self, ticket: Ticket) -> bool:
        return True


class RateGate:
    """The account's rate (a `Pacer`): one token per call; nothing to give back."""

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer

    def try_start(self, ticket: Ticket) -> Ticket | None:
        return ticket if self.pacer.try_acquire() else None

    async def start(self, ticket: Ticket) -> Ticket:
        await self.pacer.acquire()
        return ticket

    def finished(self, ticket: Ticket) -> None:
        pass

    def still_admits(self, ticket: Ticket) -> bool:
        return True


class LaneGate:
    """A job's lanes (`KeyedLimiter`): at most `per_job_concurrency` chunks of one job."""

    def __init__(self, lanes: KeyedLimiter) -> None:
        self.lanes = lanes

    def try_start(self, ticket: Ticket) -> Ticket | None:
        return ticket if self.lanes.try_acquire(ticket.job) else None

    async def start(self, ticket: Ticket) -> Ticket:
        await self.lanes.acquire(ticket.job)
        return ticket

    def finished(self, ticket: Ticket) -> None:
        self.lanes.release(ticket.job)

    def still_admits(self, ticket: Ticket) -> bool:
        return True


__all__ = ["Admission", "Gate", "LaneGate", "Pass", "RateGate", "SlotGate", "Ticket"]
