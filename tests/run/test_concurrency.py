"""ConcurrencyLimiter and KeyedLimiter: caps, fairness, no memory for idle keys."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator.run._concurrency import ConcurrencyLimiter, KeyedLimiter


@pytest.mark.asyncio
async def test_never_more_than_the_limit_in_flight() -> None:
    clock = FakeClock()
    cap = ConcurrencyLimiter(3)
    in_flight = peak = 0
    order: list[int] = []

    async def call(i: int) -> None:
        nonlocal in_flight, peak
        async with cap:
            order.append(i)
            in_flight += 1
            peak = max(peak, in_flight)
            await clock.sleep(1.0)
            in_flight -= 1

    async with anyio.create_task_group() as tg:
        for i in range(10):
            tg.start_soon(call, i)
            await asyncio.sleep(0)
    assert peak == 3
    assert order == list(range(10))  # first come, first served
    assert clock.now() == 4.0  # ceil(10 / 3) rounds of one second
    assert repr(cap) == "ConcurrencyLimiter(limit=3, in_use=0, waiting=0)"


@pytest.mark.asyncio
async def test_keyed_limit_is_per_key_and_forgets_idle_keys() -> None:
    clock = FakeClock()
    jobs = KeyedLimiter(1)
    running: dict[str, int] = {}
    peak: dict[str, int] = {}

    async def call(key: str) -> None:
        async with jobs.hold(key):
            running[key] = running.get(key, 0) + 1
            peak[key] = max(peak.get(key, 0), running[key])
            await clock.sleep(1.0)
            running[key] -= 1

    async with anyio.create_task_group() as tg:
        for key in ["a", "b", "a", "a", "b", "c"]:
            tg.start_soon(call, key)
        await asyncio.sleep(0)
        assert len(jobs) == 3
        assert jobs.in_use("a") == 1
    assert peak == {"a": 1, "b": 1, "c": 1}
    assert clock.now() == 3.0  # "a" three times in a row, the others alongside
    assert len(jobs) == 0


@pytest.mark.asyncio
async def test_cancelled_waiter_releases_its_key() -> None:
    jobs = KeyedLimiter(1)
    async with jobs.hold("a"):
        with anyio.move_on_after(0.01):
            async with jobs.hold("a"):
                pytest.fail("must not get a second slot")
        assert len(jobs) == 1
    assert len(jobs) == 0


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_limits_are_validated(bad: object) -> None:
    with pytest.raises(ValueError, match="limit"):
        ConcurrencyLimiter(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit"):
        KeyedLimiter(bad)  # type: ignore[arg-type]
