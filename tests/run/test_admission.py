"""Admission: gates walked in order, all or nothing, a stop cuts a wait short."""

from __future__ import annotations

import anyio
import pytest

from rerun_orchestrator.run._admission import Admission, LaneGate, SlotGate, Ticket
from rerun_orchestrator.run._concurrency import ConcurrencyLimiter, KeyedLimiter
from rerun_orchestrator.run._stop import StoppedError, StopSignal
from rerun_orchestrator.run._streams import JobKey

JOB = JobKey("cn-hangzhou", "ns-1", "g1", 1)
OTHER = JobKey("cn-hangzhou", "ns-1", "g1", 2)


@pytest.mark.asyncio
async def test_a_pass_holds_every_gate_until_released_once() -> None:
    lanes, slots = KeyedLimiter(1), ConcurrencyLimiter(2)
    admission = Admission([LaneGate(lanes), SlotGate(slots)], StopSignal(None))
    first = await admission.enter(Ticket(JOB, 3))
    assert lanes.in_use(JOB) == 1
    assert slots.in_use == 1
    second = await admission.enter(Ticket(OTHER, 1))
    assert slots.in_use == 2
    first.release()
    first.release()  # idempotent: a release from two places gives back once
    assert lanes.in_use(JOB) == 0
    assert slots.in_use == 1
    second.release()
    assert slots.in_use == 0


@pytest.mark.asyncio
async def test_a_stopped_wait_gives_back_the_gates_already_passed() -> None:
    lanes, slots = KeyedLimiter(2), ConcurrencyLimiter(1)
    signal = StopSignal(anyio.Event())
    admission = Admission([LaneGate(lanes), SlotGate(slots)], signal)
    held = await admission.enter(Ticket(OTHER))
    outcome: list[str] = []

    async def blocked() -> None:
        try:
            await admission.enter(Ticket(JOB))
        except StoppedError:
            outcome.append("stopped")

    async with anyio.create_task_group() as tg:
        tg.start_soon(blocked)
        await anyio.wait_all_tasks_blocked()
        assert lanes.in_use(JOB) == 1  # the lane is held while the slot is awaited
        signal.set()
    assert outcome == ["stopped"]
    assert lanes.in_use(JOB) == 0  # given back
    held.release()
    assert slots.in_use == 0


class _Flaky:
    """Admits at once, but says no once after the walk: the walk goes round again."""

    def __init__(self) -> None:
        self.started = self.finished_count = 0
        self.refusals = 1

    def try_start(self, ticket: Ticket) -> Ticket | None:
        self.started += 1
        return ticket

    async def start(self, ticket: Ticket) -> Ticket:  # pragma: no cover - never shut
        return ticket

    def finished(self, ticket: Ticket) -> None:
        self.finished_count += 1

    def still_admits(self, ticket: Ticket) -> bool:
        self.refusals -= 1
        return self.refusals < 0


@pytest.mark.asyncio
async def test_a_gate_that_no_longer_admits_sends_the_ticket_round_again() -> None:
    slots = ConcurrencyLimiter(1)
    flaky = _Flaky()
    admission = Admission([SlotGate(slots), flaky], StopSignal(None))
    passed = await admission.enter(Ticket(JOB, 2))
    assert flaky.started == 2  # walked twice
    assert flaky.finished_count == 1  # the first walk's share was given back
    assert slots.in_use == 1  # and the first slot too: one held now
    passed.release()
    assert slots.in_use == 0
