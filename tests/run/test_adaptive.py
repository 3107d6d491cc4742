"""AdaptiveLimiter: cut on throttles, recover along CUBIC, find a quota it was not told."""

from __future__ import annotations

import asyncio
import random
import statistics
from dataclasses import dataclass

import pytest

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator.run._adaptive import BETA, AdaptiveLimiter, CubicRate


class ServerQuota:
    """The quota as SchedulerX (and our simulator) applies it: a bucket of one second's worth."""

    def __init__(self, rate: float, clock: FakeClock) -> None:
        self.rate = rate
        self.burst = max(1.0, rate)
        self.tokens = self.burst
        self.clock = clock
        self.updated = clock.now()

    def take(self) -> bool:
        now = self.clock.now()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class Tally:
    accepted: int = 0
    throttled: int = 0
    accepted_late: int = 0  # in the second half, once it had time to converge


async def drive(
    quota: float,
    ceiling: float,
    duration: float,
    other: float = 0.0,
    workers: int = 4,
    noise: float = 0.0,
    rates: list[float] | None = None,
) -> tuple[Tally, Tally, AdaptiveLimiter]:
    """`workers` callers through one limiter against the quota; `noise` is the share of
    answers throttled at random whatever the rate (a fault, not the quota); `rates` gets
    the permitted rate sampled every 0.1 s."""
    clock = FakeClock()
    server = ServerQuota(quota, clock)
    limiter = AdaptiveLimiter(ceiling, clock=clock)
    ours, theirs = Tally(), Tally()
    draws = random.Random(11)

    async def worker() -> None:
        while clock.now() < duration:
            await limiter.acquire()
            assert limiter.rate <= ceiling
            sent = clock.now()
            await clock.sleep(0.02)  # the round trip
            if draws.random() >= noise and server.take():
                ours.accepted += 1
                ours.accepted_late += clock.now() >= duration / 2
                limiter.on_success()
            else:
                ours.throttled += 1
                limiter.on_throttle(sent_at=sent, retry_after=None)

    async def other_caller() -> None:
        while clock.now() < duration:
            await clock.sleep(1 / other)
            if server.take():
                theirs.accepted += 1
                theirs.accepted_late += clock.now() >= duration / 2
            else:
                theirs.throttled += 1

    async def sampler(into: list[float]) -> None:
        while clock.now() < duration:
            into.append(limiter.rate)
            await clock.sleep(0.1)

    callers = [worker() for _ in range(workers)]
    if other:
        callers.append(other_caller())
    if rates is not None:
        callers.append(sampler(rates))
    await asyncio.gather(*callers)
    return ours, theirs, limiter


@pytest.mark.parametrize("ceiling_factor", [2.0, 5.0])
@pytest.mark.asyncio
async def test_converges_to_a_quota_it_was_not_told(ceiling_factor: float) -> None:
    quota, duration = 10.0, 120.0
    ours, _, limiter = await drive(quota, quota * ceiling_factor, duration)
    sent = ours.accepted + ours.throttled
    assert ours.throttled / sent <= 0.05
    assert ours.accepted_late >= 0.9 * quota * duration / 2
    assert 0.6 * quota <= limiter.rate <= 1.3 * quota
    assert limiter.cuts >= 1


@pytest.mark.asyncio
async def test_finds_what_another_caller_leaves() -> None:
    quota, other, duration = 10.0, 3.0, 120.0
    ours, theirs, _ = await drive(quota, 2 * quota, duration, other=other)
    left = quota * duration / 2 - theirs.accepted_late
    assert ours.accepted_late >= 0.85 * left
    assert ours.throttled / (ours.accepted + ours.throttled) <= 0.05


@pytest.mark.parametrize("noise", [0.1, 0.15])
@pytest.mark.asyncio
async def test_random_throttles_do_not_collapse_the_rate(noise: float) -> None:
    """Throttles that come whatever the rate (issue 11's fault matrix) cost a few cuts, not
    the run: the first release fell to about 4% of the plan's rate here. (The goal, 25% of
    the plan's rate through the whole fault matrix, is bench/bench_noise.py's.)"""
    rates: list[float] = []
    ceiling = 50.0
    ours, _, limiter = await drive(1000.0, ceiling, 60.0, workers=8, noise=noise, rates=rates)
    assert statistics.median(rates) >= 0.15 * ceiling
    assert ours.throttled >= noise / 2 * (ours.accepted + ours.throttled)  # noise was there
    assert limiter.cuts >= 5


@pytest.mark.asyncio
async def test_one_cut_per_congestion_window_and_a_floor_from_the_successes() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(10.0, clock=clock)
    for _ in range(100):  # 10 s of successes at the ceiling
        await limiter.acquire()
        limiter.on_success()
    limiter.on_throttle(sent_at=clock.now(), retry_after=None)
    # the floor: 0.9 of the ~10/s the successes showed, above botocore's 0.7 cut
    first_cut = limiter.rate
    assert 0.85 * 10.0 <= first_cut < 10.0
    # throttles of calls sent after the cut but inside its window are the same event
    for _ in range(3):
        await limiter.acquire()
        limiter.on_throttle(sent_at=clock.now(), retry_after=None)
    assert limiter.cuts == 1
    assert limiter.rate == first_cut
    await clock.sleep(1.0)  # the window is over: the next throttle is a new event
    await limiter.acquire()
    limiter.on_throttle(sent_at=clock.now(), retry_after=None)
    assert limiter.cuts == 2


@pytest.mark.asyncio
async def test_a_window_of_mostly_throttles_cuts_again_at_once() -> None:
    """An evident overload (more throttles than answers) is not noise: it does not wait for
    the window to end, and gets botocore's full cut."""
    clock = FakeClock()
    limiter = AdaptiveLimiter(50.0, clock=clock)
    await limiter.acquire()
    limiter.on_throttle(sent_at=clock.now(), retry_after=None)
    assert limiter.cuts == 1
    rate = limiter.rate
    for _ in range(4):
        await limiter.acquire()
        limiter.on_throttle(sent_at=clock.now(), retry_after=None)
    assert clock.now() < 1.0  # still inside the first window
    assert limiter.cuts == 2
    assert limiter.rate == pytest.approx(BETA * rate, rel=0.05)


@pytest.mark.asyncio
async def test_at_the_quota_it_never_throttles_or_slows() -> None:
    ours, _, limiter = await drive(10.0, 10.0, 60.0)
    assert ours.throttled == 0
    assert limiter.rate == 10.0
    assert ours.accepted >= 0.99 * 10.0 * 60.0


@pytest.mark.asyncio
async def test_one_cut_per_overload_and_retry_after_pauses() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(10.0, clock=clock)
    for _ in range(20):
        await limiter.acquire()
    sent_before = clock.now() - 0.5
    limiter.on_throttle(sent_at=sent_before, retry_after=None)
    cut_rate = limiter.rate
    assert cut_rate == pytest.approx(BETA * 10.0)
    # the calls that were already in flight come back throttled too: no further cut
    for _ in range(3):
        limiter.on_throttle(sent_at=sent_before, retry_after=None)
    assert limiter.rate == cut_rate
    assert (limiter.throttles, limiter.cuts) == (4, 1)
    # x-acs-retry-after pauses every caller (capped at 60 s)
    start = clock.now()
    limiter.on_throttle(sent_at=sent_before, retry_after=300.0)
    await limiter.acquire()
    # the bucket was empty: the first token comes one interval after the pause
    assert clock.now() - start == pytest.approx(60.0 + 1 / limiter.rate)


@pytest.mark.asyncio
async def test_recovery_follows_the_cubic_curve_up_to_the_ceiling() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(10.0, clock=clock, recovery=20.0)
    for _ in range(30):
        await limiter.acquire()
    limiter.on_throttle(sent_at=clock.now(), retry_after=None)
    assert limiter.rate == pytest.approx(7.0)
    rates = []
    while clock.now() < 30.0:
        await limiter.acquire()
        limiter.on_success()
        rates.append((clock.now(), limiter.rate))
    values = [r for _, r in rates]
    assert values == sorted(values)  # never falls without a throttle
    assert max(values) <= 10.0
    late = [r for t, r in rates if t >= 21.0]
    assert late
    assert all(r == pytest.approx(10.0, rel=1e-3) for r in late)


def test_cubic_arithmetic() -> None:
    cubic = CubicRate(ceiling=10.0, floor=0.2, recovery=20.0)
    assert cubic.at(5.0) == 10.0
    assert not cubic.engaged
    assert cubic.cut(8.0, now=100.0) == pytest.approx(5.6)
    # K: back at W_max after cbrt(W_max (1-β) / C) seconds, slower for a lower W_max
    k = (8.0 * 0.3 / cubic.scale) ** (1 / 3)
    assert cubic.at(100.0 + k) == pytest.approx(8.0)
    assert cubic.at(100.0 + k / 2) < 8.0 < cubic.at(100.0 + 1.5 * k)
    assert cubic.cut(0.1, now=200.0) == 0.2  # the floor
    assert CubicRate(ceiling=10.0, floor=1.0).at(0.0) == 10.0
    with pytest.raises(ValueError, match="floor"):
        CubicRate(ceiling=1.0, floor=2.0)
    with pytest.raises(ValueError, match="beta"):
        CubicRate(ceiling=1.0, floor=0.1, beta=1.0)


def test_repr_shows_live_state() -> None:
    limiter = AdaptiveLimiter(2.0, clock=FakeClock())
    assert repr(limiter).startswith(
        "AdaptiveLimiter(rate=2/s, ceiling=2/s, w_max=2/s, throttles=0, cuts=0, "
        "limiter=RateLimiter("
    )
