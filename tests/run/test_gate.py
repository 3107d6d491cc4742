"""The retry gate on a fake clock: budget, cooldown, one probe, recovery."""

from __future__ import annotations

import pytest

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator.run import RetryBudget
from rerun_orchestrator.run._gate import RetryGate, Turn


@pytest.mark.asyncio
async def test_a_spent_budget_opens_the_gate_then_one_probe_and_recovery() -> None:
    clock = FakeClock()
    budget = RetryBudget(ratio=0.0, floor=2)
    gate = RetryGate(budget, clock)
    assert gate.try_pass()
    assert gate.try_pass()
    assert not gate.try_pass()  # spent: opens
    assert gate.is_open
    assert gate.openings == 1
    assert await gate.turn() is Turn.WAIT  # slept out the first cooldown (2 s)
    assert clock.now() == pytest.approx(2.0)
    assert await gate.turn() is Turn.PROBE
    gate.answered(healthy=False, probe=True)  # still failing: open again, for longer
    assert gate.openings == 2
    assert await gate.turn() is Turn.WAIT
    assert clock.now() == pytest.approx(2.0 + 4.0)
    assert await gate.turn() is Turn.PROBE
    gate.answered(healthy=True, probe=True)  # recovered
    assert not gate.is_open
    assert budget.remaining == 2  # the floor again
    assert gate.try_pass()


@pytest.mark.asyncio
async def test_a_healthy_answer_from_any_call_closes_the_gate() -> None:
    clock = FakeClock()
    gate = RetryGate(RetryBudget(ratio=0.0, floor=0), clock)
    assert not gate.try_pass()
    gate.answered(healthy=False, probe=False)  # an ordinary failure changes nothing
    assert gate.is_open
    assert gate.openings == 1
    gate.answered(healthy=True, probe=False)  # e.g. a first attempt that was accepted
    assert not gate.is_open
