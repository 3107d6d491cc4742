"""RateLimiter: rate + burst in every window, FIFO, pauses, cancellation; the registry."""

from __future__ import annotations

import asyncio
import gc
import random

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator.plan._model import Rate
from rerun_orchestrator.run._limiter import LimiterRegistry, RateLimiter


def assert_within_rate(times: list[float], rate: float, burst: float) -> None:
    """No window [times[i], times[j]] holds more than burst + rate * width grants."""
    times = sorted(times)
    for i in range(len(times)):
        for j in range(i, len(times)):
            allowed = burst + rate * (times[j] - times[i])
            assert j - i + 1 <= allowed + 1e-6, (i, j, times[i], times[j], allowed)


async def grant_times(limiter: RateLimiter, clock: FakeClock, tasks: int, each: int) -> list[float]:
    times: list[float] = []

    async def worker() -> None:
        for _ in range(each):
            await limiter.acquire()
            times.append(clock.now())

    await asyncio.gather(*(worker() for _ in range(tasks)))
    return times


@settings(max_examples=40, deadline=None)
@given(
    rate=st.floats(min_value=0.05, max_value=500.0),
    burst=st.integers(min_value=1, max_value=10),
    tasks=st.integers(min_value=1, max_value=6),
    each=st.integers(min_value=1, max_value=12),
)
def test_never_more_than_rate_plus_burst_in_any_window(
    rate: float, burst: int, tasks: int, each: int
) -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate, burst=burst, clock=clock)
    times = asyncio.run(grant_times(limiter, clock, tasks, each))
    assert len(times) == tasks * each
    assert_within_rate(times, rate, burst)
    # and it is not slower than it must be: the last grant is when the bucket allows it
    expected_end = max(0.0, (tasks * each - burst) / rate)
    assert max(times) == pytest.approx(expected_end, rel=1e-6, abs=1e-6)


class LaggingClock(FakeClock):
    """A FakeClock whose sleepers wake late, by a seeded random share of `max_lag`, as an
    event loop wakes them (epoll rounding, other tasks first)."""

    def __init__(self, max_lag: float, seed: int) -> None:
        super().__init__()
        self._max_lag = max_lag
        self._random = random.Random(seed)

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds + self._random.uniform(0, self._max_lag))


@settings(max_examples=40, deadline=None)
@given(
    rate=st.floats(min_value=0.5, max_value=200.0),
    lag=st.floats(min_value=0.0, max_value=0.9),
    tasks=st.integers(min_value=1, max_value=6),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_wake_up_lag_is_repaid_and_the_bound_holds_with_catch_up(
    rate: float, lag: float, tasks: int, seed: int
) -> None:
    """Waiters that wake up to `lag` intervals late lose no throughput, and no window ever
    holds more than burst + catch_up + rate x width grants."""
    calls = 40
    clock = LaggingClock(lag / rate, seed)
    limiter = RateLimiter(rate, clock=clock)
    times = asyncio.run(grant_times(limiter, clock, tasks, -(-calls // tasks)))
    assert_within_rate(times, rate, burst=1 + 1)
    # on schedule: the last grant trails its slot by at most one lag, it does not pile up
    slots_end = (len(times) - 1) / rate
    assert max(times) <= slots_end + lag / rate + 1e-6


def test_without_catch_up_the_lag_accumulates() -> None:
    """The control: a plain bucket (catch_up=0) on the same lagging clock falls behind by
    the sum of the lags, which is what `catch_up` is for."""
    rate, lag, calls = 10.0, 0.5, 40
    ends = {}
    for catch_up in (0.0, 1.0):
        clock = LaggingClock(lag / rate, seed=7)
        limiter = RateLimiter(rate, catch_up=catch_up, clock=clock)
        ends[catch_up] = max(asyncio.run(grant_times(limiter, clock, 4, calls // 4)))
    assert ends[1.0] <= (calls - 1) / rate + lag / rate
    assert ends[0.0] > (calls - 1) / rate + 10 * lag / rate  # ~ (calls - 1) x lag / 2


@pytest.mark.asyncio
async def test_idle_time_earns_no_catch_up() -> None:
    """Catch-up repays a waiter's lag only: after idling, the bucket holds `burst`, no more."""
    clock = FakeClock()
    limiter = RateLimiter(1.0, clock=clock)
    await limiter.acquire()
    await clock.sleep(100.0)
    assert limiter.try_acquire()
    assert not limiter.try_acquire()


@pytest.mark.asyncio
async def test_rate_changes_and_pauses_keep_the_bound() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10.0, burst=3, clock=clock)
    times: list[float] = []

    async def worker() -> None:
        for _ in range(30):
            await limiter.acquire()
            times.append(clock.now())

    async def meddler() -> None:
        await clock.sleep(0.7)
        limiter.set_rate(2.0)
        await clock.sleep(1.3)
        limiter.pause(5.0)
        await clock.sleep(1.0)
        limiter.set_rate(10.0)

    await asyncio.gather(worker(), worker(), meddler())
    assert_within_rate(times, 10.0, 3)  # the highest rate it ever had
    paused = [t for t in times if 2.0 < t < 7.0]
    assert paused == []  # nothing granted during the pause
    after = sorted(t for t in times if t >= 7.0)
    # no burst saved up during the pause: at most one token carried over, then the rate
    for n, t in enumerate(after, start=1):
        assert n <= 1 + 10.0 * (t - 7.0) + 1e-6


@pytest.mark.asyncio
async def test_waiters_are_served_first_come_first_served() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1.0, clock=clock)
    await limiter.acquire()  # empty the bucket
    order: list[int] = []

    async def waiter(i: int) -> None:
        await limiter.acquire()
        order.append(i)

    async with anyio.create_task_group() as tg:
        for i in range(6):
            tg.start_soon(waiter, i)
            await asyncio.sleep(0)  # arrival order is start order
        await asyncio.sleep(0)
        assert limiter.waiting == 6
    assert order == list(range(6))
    assert clock.now() == 6.0


@pytest.mark.asyncio
async def test_a_cancelled_waiter_does_not_block_the_queue() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1.0, clock=clock)
    await limiter.acquire()
    got: list[str] = []

    async def waiter(name: str) -> None:
        await limiter.acquire()
        got.append(name)

    head_scope = anyio.CancelScope()

    async with anyio.create_task_group() as tg:

        async def cancellable_head() -> None:
            with head_scope:
                await limiter.acquire()
                got.append("head")

        tg.start_soon(cancellable_head)
        await asyncio.sleep(0)
        tg.start_soon(waiter, "second")
        await asyncio.sleep(0)
        head_scope.cancel()
    assert got == ["second"]
    assert limiter.waiting == 0
    assert clock.now() == 1.0  # the head's place went to the next waiter, on time


def test_validation_and_repr() -> None:
    for bad in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="rate"):
            RateLimiter(bad)
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(1.0, burst=0.5)
    for bad in (-0.1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="catch_up"):
            RateLimiter(1.0, catch_up=bad)
    limiter = RateLimiter(Rate(100, 60), burst=2, clock=FakeClock())
    assert limiter.rate == pytest.approx(100 / 60)
    assert repr(limiter) == (
        "RateLimiter(rate=1.667/s, burst=2, catch_up=1, tokens=2.000, waiting=0, paused=0s)"
    )
    with pytest.raises(ValueError, match="rate"):
        limiter.set_rate(0.0)


def test_registry_shares_one_pacer_per_account_and_api() -> None:
    registry = LimiterRegistry()
    built: list[RateLimiter] = []

    def factory() -> RateLimiter:
        built.append(RateLimiter(1.0))
        return built[-1]

    a = registry.get("AKID1", "RerunJob", factory)
    b = registry.get("AKID1", "RerunJob", factory)
    c = registry.get("AKID1", "GetJobInstanceList", factory)
    d = registry.get("AKID2", "RerunJob", factory)
    assert a is b
    assert len({id(a), id(c), id(d)}) == 3
    assert len(built) == 3
    del a, b, c, d
    built.clear()
    gc.collect()
    assert len(registry) == 0  # released once no run holds them
