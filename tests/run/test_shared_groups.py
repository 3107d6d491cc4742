"""`SharedGroupGate`: a group's slots taken from the shared journal, cut to what is free,
waited for until something frees them, given back from a worker thread that `close`
stops. The journal's side (`GroupSlots`) is tested on PostgreSQL in tests/journal."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import anyio
import pytest

from rerun_orchestrator.run._admission import Ticket
from rerun_orchestrator.run._shared_groups import SharedGroupGate
from rerun_orchestrator.run._streams import JobKey

G = ("cn-hangzhou", "ns-1", "g1")
JOB = JobKey(*G, 7)


class Slots:
    """A group's slots as the database would keep them (one group, no other replica)."""

    def __init__(self, free: int) -> None:
        self.free = free
        self.held: dict[str, int] = {}
        self.asked = 0

    def reserve(self, group, cap: int, days: int, since: float) -> tuple[str | None, int]:
        self.asked += 1
        granted = min(days, cap - sum(self.held.values()), self.free)
        if granted <= 0:
            return None, 0
        token = f"t{len(self.held) + self.asked}"
        self.held[token] = granted
        return token, granted

    def release(self, tokens: Iterable[str]) -> None:
        for token in tokens:
            del self.held[token]


class StillClock:
    """Time never passes by itself: only a nudge wakes a waiter (no poll fires)."""

    def now(self) -> float:
        return 0.0

    def wall(self) -> float:
        return 1_000.0

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep_forever()


def _gate(slots: Slots, cap: int | None = 3) -> SharedGroupGate:
    return SharedGroupGate(slots, lambda group: cap, StillClock(), horizon=100.0)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_a_ticket_is_cut_to_the_free_slots_and_the_next_waits_for_a_release() -> None:
    slots = Slots(free=10)
    gate = _gate(slots)
    assert gate.try_start(Ticket(JOB, 2)) is None  # a round trip: never at once
    first = await gate.start(Ticket(JOB, 5))
    assert first.days == 3
    got: list[Ticket] = []

    async def second() -> None:
        got.append(await gate.start(Ticket(JOB, 1)))

    async with anyio.create_task_group() as tg:
        tg.start_soon(second)
        await anyio.wait_all_tasks_blocked()
        assert got == []
        assert gate.awaited(G)
        gate.finished(first)  # given back from the worker, then the waiter asks again
    assert [t.days for t in got] == [1]
    assert not gate.awaited(G)
    await anyio.to_thread.run_sync(gate.close)
    assert list(slots.held.values()) == [1]


@pytest.mark.asyncio
async def test_a_group_without_a_cap_passes_at_once() -> None:
    slots = Slots(free=0)
    gate = _gate(slots, cap=None)
    ticket = Ticket(JOB, 4)
    assert gate.try_start(ticket) is ticket
    assert await gate.start(ticket) is ticket
    gate.finished(ticket)
    assert slots.asked == 0


@pytest.mark.asyncio
async def test_close_stops_the_worker_thread() -> None:
    gate = _gate(Slots(free=5))
    admitted = await gate.start(Ticket(JOB, 1))
    gate.finished(admitted)
    assert any(t.name.startswith("rerun-group-slots") for t in threading.enumerate())
    await anyio.to_thread.run_sync(gate.close)
    assert not any(t.name.startswith("rerun-group-slots") for t in threading.enumerate())
