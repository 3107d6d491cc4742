"""Caps across replicas, the run's side. `SharedGroupGate`: a group's slots taken from the
shared journal, cut to what is free, waited for until something frees them, given back
from a worker thread that `close` stops (the journal's side, `GroupSlots`, is tested on
PostgreSQL in tests/journal). `Neighbour.follow`: capacity given back for the ends other
replicas' watchers record."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import date
from zoneinfo import ZoneInfo

import anyio
import anyio.lowlevel
import pytest

from rerun_orchestrator.journal import MemoryJournal
from rerun_orchestrator.journal._instances import DayInstance, InstanceState
from rerun_orchestrator.plan._model import Chunk, chunk_key
from rerun_orchestrator.run._admission import Ticket
from rerun_orchestrator.run._capacity import InstanceGate
from rerun_orchestrator.run._neighbour import Neighbour
from rerun_orchestrator.run._production import Durations
from rerun_orchestrator.run._rejected import RejectedRetrier
from rerun_orchestrator.run._shared_groups import SharedGroupGate
from rerun_orchestrator.run._streams import JobKey
from rerun_orchestrator.schedulerx import ApiResponse, AttemptResult, Verdict

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


class EndsJournal:
    """A shared journal where another replica's watcher recorded the end of a day."""

    def __init__(self, ended: dict[tuple[str, date], DayInstance]) -> None:
        self.ended = ended
        self.asked: list[list[str]] = []

    def day_instances(self, keys: Iterable[str]) -> dict[tuple[str, date], DayInstance]:
        self.asked.append(list(keys))
        return {k: v for k, v in self.ended.items() if k[0] in self.asked[-1]}


class TickClock(StillClock):
    async def sleep(self, seconds: float) -> None:
        await anyio.lowlevel.checkpoint()


@pytest.mark.asyncio
async def test_capacity_is_given_back_for_an_end_another_replica_recorded() -> None:
    """This replica's watcher never sees a day change once another replica recorded its
    end: the follower gives its slot back (else the job would wait forever)."""
    capacity = InstanceGate(lambda job: 1)
    assert capacity.try_start(Ticket(JOB, 1)) == Ticket(JOB, 1)
    capacity.hold("k1", JOB, 1)
    day = date(2024, 1, 1)
    done = DayInstance("k1", day, 7, 70, InstanceState.SUCCESS, None, None, None, 1.0)
    journal = EndsJournal({("k1", day): done})
    shared = _gate(Slots(free=5))
    neighbour = Neighbour(capacity, (), Durations(), ZoneInfo("UTC"), TickClock(), shared=shared)  # type: ignore[arg-type]
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(neighbour.follow, journal, 0.1)  # type: ignore[arg-type]
            while capacity.active(JOB):
                await anyio.lowlevel.checkpoint()
            tg.cancel_scope.cancel()
    assert journal.asked[0] == ["k1"]
    assert capacity.try_start(Ticket(JOB, 1)) == Ticket(JOB, 1)


class Retrier:
    def __init__(self) -> None:
        self.calls = 0

    async def retry_job_instance(self, **kwargs: object) -> AttemptResult:
        self.calls += 1
        return AttemptResult(Verdict.SUCCEEDED, "accepted", ApiResponse(200, "R1", 200, True, None))


@pytest.mark.asyncio
async def test_a_rejected_day_retried_in_place_takes_a_slot_of_the_groups_cap() -> None:
    """A retry in place starts an instance again: across replicas it must fit the
    group's cap like a chunk (its slot given back once the day is waiting again)."""
    day = date(2024, 1, 1)
    fields = {
        "region": G[0],
        "namespace": G[1],
        "namespace_source": None,
        "group_id": G[2],
        "job_id": 7,
        "first_day": day,
        "last_day": day,
        "data_time": "10:00:00",
    }
    chunk = Chunk(key=chunk_key(**fields), start_date=0, end_date=0, days=1, **fields)  # type: ignore[arg-type]
    journal = MemoryJournal()
    journal.propose(chunk, plan="p", timezone="UTC")
    rejected = DayInstance(chunk.key, day, 7, 70, InstanceState.REJECTED, None, None, None, 1.0)
    slots = Slots(free=5)
    gate = _gate(slots)
    client = Retrier()
    retrier = RejectedRetrier(
        client,
        journal,
        TickClock(),
        capacity=None,
        durations=Durations(),
        shared=gate,  # type: ignore[arg-type]
    )
    assert retrier.offer(rejected)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(retrier.run)
            while not client.calls or retrier.busy():
                await anyio.lowlevel.checkpoint()
            tg.cancel_scope.cancel()
    await anyio.to_thread.run_sync(gate.close)
    assert client.calls == 1
    assert slots.asked == 1  # the slot was taken before the retry
    assert slots.held == {}  # and given back after it
    waiting = journal.day_instances([chunk.key])[(chunk.key, day)]
    assert waiting.status is InstanceState.WAITING
