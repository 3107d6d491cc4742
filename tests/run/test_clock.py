"""FakeClock: virtual time that jumps to the next deadline when the loop is idle."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from rerun_orchestrator._clock import Clock, FakeClock, SystemClock


def test_clocks_satisfy_the_protocol() -> None:
    assert isinstance(FakeClock(), Clock)
    assert isinstance(SystemClock(), Clock)


@pytest.mark.asyncio
async def test_sleepers_wake_in_deadline_order_and_time_jumps() -> None:
    clock = FakeClock(start=100.0, wall_start=1_000.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    loop_started = asyncio.get_running_loop().time()
    await asyncio.gather(sleeper("c", 3600.0), sleeper("a", 1.5), sleeper("b", 60.0))
    assert woke == [("a", 101.5), ("b", 160.0), ("c", 3700.0)]
    assert clock.wall() == pytest.approx(1_000.0 + 3600.0)
    # an hour of virtual time in well under a real second
    assert asyncio.get_running_loop().time() - loop_started < 1.0


@pytest.mark.asyncio
async def test_equal_deadlines_wake_in_the_order_they_slept() -> None:
    clock = FakeClock()
    order: list[int] = []

    async def sleeper(i: int) -> None:
        await clock.sleep(2.0)
        order.append(i)

    await asyncio.gather(*(sleeper(i) for i in range(8)))
    assert order == list(range(8))


@pytest.mark.asyncio
async def test_time_does_not_jump_while_another_task_can_run() -> None:
    clock = FakeClock()
    seen: list[float] = []

    async def busy() -> None:
        for _ in range(50):  # runnable for 50 passes: no jump may happen meanwhile
            seen.append(clock.now())
            await asyncio.sleep(0)

    await asyncio.gather(clock.sleep(10.0), busy())
    assert set(seen) == {0.0}
    assert clock.now() == 10.0


@pytest.mark.asyncio
async def test_cancelled_sleeper_is_skipped() -> None:
    clock = FakeClock()
    with anyio.move_on_after(0.5):  # real time: the fake clock must not wake it
        await FakeClock(autojump=False).sleep(5.0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(clock.sleep, 100.0)
        await asyncio.sleep(0)
        tg.cancel_scope.cancel()
    await clock.sleep(1.0)
    assert clock.now() == 1.0
    assert clock.sleepers == 0


@pytest.mark.asyncio
async def test_manual_advance_without_autojump() -> None:
    clock = FakeClock(autojump=False)
    done = anyio.Event()

    async def sleeper() -> None:
        await clock.sleep(5.0)
        done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper)
        await asyncio.sleep(0)
        clock.advance(4.0)
        await asyncio.sleep(0)
        assert not done.is_set()
        clock.advance(1.0)
        await done.wait()
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1.0)
    assert "FakeClock(now=5.0" in repr(clock)
