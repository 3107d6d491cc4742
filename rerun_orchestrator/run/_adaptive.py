"""Adaptive pacing: find the rate the account's quota really leaves us, without being told.

SchedulerX's quota (100 RerunJob calls per minute) belongs to the whole account: every
AccessKey, RAM user and colleague's script draws on it, so the rate left for a backfill is
unknown and moves. `AdaptiveLimiter` starts at the configured rate (its ceiling, never
exceeded), and follows botocore's adaptive retry mode (`botocore/retries/adaptive.py`,
`cubic.py`), which is CUBIC congestion control applied to calls per second:

- a `Throttling*` answer cuts the rate to β = 0.7 of the rate measured when the call was
  sent (botocore's β), and remembers that rate as W_max;
- the rate then recovers along ``C·(t - K)³ + W_max``: fast at first, flat near W_max (where
  the last throttle happened), then probing past it; K is when the curve is back at W_max;
- a recovery never sets the rate above twice the measured send rate (botocore's rule, so an
  idle client does not "earn" a rate it has never tried), nor below a floor;
- ``x-acs-retry-after`` pauses the limiter for that long (capped at 60 s as the aliyun CLI
  caps it).

Two deliberate departures from botocore, both because SchedulerX's quota is tiny:
- botocore's C = 0.4 (calls/s per s³) is tuned for quotas of hundreds of calls per second;
  at 1.67 calls/s it would be back past the quota 1 s after a throttle and throttled again
  every few seconds. Here C is scaled to the ceiling so that a cut from the ceiling
  recovers in `recovery` seconds (default 20 s).
- botocore cuts on every throttle. A throttle answering a call that was sent *before* the
  last cut says nothing about the new rate (it was paced by the old one), so it does not cut
  again: one cut per overload, as TCP cuts once per window. Without this, the calls already
  in flight at a throttle (up to `concurrency`) would cut the rate to 0.7^n.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from .._clock import Clock, SystemClock
from ..plan._model import Rate
from ._limiter import RateLimiter

BETA = 0.7  # botocore adaptive mode (cubic.py: BETA)
RETRY_AFTER_CAP = 60.0  # seconds; the aliyun CLI caps x-acs-retry-after the same way
RECOVERY_SECONDS = 20.0  # a cut from the ceiling is back at the ceiling after this long
FLOOR_FRACTION = 0.02  # the floor is 2% of the ceiling (100/min → 2/min)
MEASURE_WINDOW = 2.0  # seconds of sends averaged for the measured rate...
MEASURE_CALLS = 10  # ...or the time the last 10 calls took at the current rate, if longer
CONGESTION_WINDOW = 1.0  # seconds after a cut in which further throttles are the same event
WINDOW_CALLS = 2  # ...or this many calls' time at the cut rate, if longer
FLOOR_OF_SUCCESSES = 0.85  # a cut goes no lower than this share of the recent success rate
SUCCESS_WINDOW = 20.0  # seconds of successes averaged for that floor (one recovery)...
SUCCESS_CALLS = 10  # ...or the time 10 calls take at the current rate, if longer
OVERLOAD_SHARE = 0.5  # a window whose answers are more throttles than this cuts again...
OVERLOAD_THROTTLES = 4  # ...once it holds this many throttles


@dataclass(slots=True)
class CubicRate:
    """The CUBIC curve on calls per second: pure arithmetic, time passed in.

    Args:
        ceiling: the configured rate; the curve is clipped to it.
        floor: the lowest rate a cut may reach.
        beta: the multiplicative cut.
        recovery: seconds for a cut from the ceiling to recover to it (sets C).
    """

    ceiling: float
    floor: float
    beta: float = BETA
    recovery: float = RECOVERY_SECONDS
    w_max: float = 0.0
    k: float = 0.0
    cut_at: float = -math.inf

    def __post_init__(self) -> None:
        if not (0 < self.floor <= self.ceiling and math.isfinite(self.ceiling)):
            raise ValueError(f"need 0 < floor <= ceiling, got {self.floor!r}, {self.ceiling!r}")
        if not 0 < self.beta < 1:
            raise ValueError(f"beta must be in (0, 1), got {self.beta!r}")
        if not self.recovery > 0:
            raise ValueError(f"recovery must be > 0 seconds, got {self.recovery!r}")
        self.w_max = self.ceiling

    @property
    def scale(self) -> float:
        """C, in calls/s per s³, chosen so that K = `recovery` after a cut from the ceiling."""
        return self.ceiling * (1 - self.beta) / self.recovery**3

    @property
    def engaged(self) -> bool:
        """Whether a throttle has been seen (before that the rate is the ceiling)."""
        return self.cut_at > -math.inf

    def cut(self, rate: float, now: float) -> float:
        """A throttle at `now` while sending at `rate`: remember it, return the cut rate."""
        self.w_max = rate
        self.k = (rate * (1 - self.beta) / self.scale) ** (1 / 3)
        self.cut_at = now
        return self.clip(rate * self.beta)

    def at(self, now: float) -> float:
        """The rate the curve allows at `now` (the ceiling until the first cut)."""
        if not self.engaged:
            return self.ceiling
        return self.clip(self.scale * (now - self.cut_at - self.k) ** 3 + self.w_max)

    def clip(self, rate: float) -> float:
        return min(self.ceiling, max(self.floor, rate))


class _Meter:
    """A recent rate of events: those in a sliding window of `seconds`, or of the time
    `calls` events take at the current rate if longer (botocore smooths 0.5 s buckets
    instead; with a quota of 1.67 calls/s a half-second bucket holds zero or one call)."""

    def __init__(self, seconds: float, calls: int) -> None:
        self._sends: deque[float] = deque()
        self._first: float | None = None
        self._seconds = seconds
        self._calls = calls

    def record(self, now: float) -> None:
        if self._first is None:
            self._first = now
        self._sends.append(now)

    def rate(self, now: float, current: float) -> float:
        if self._first is None:
            return 0.0
        window = max(self._seconds, self._calls / current)
        while self._sends and self._sends[0] < now - window:
            self._sends.popleft()
        span = min(window, now - self._first)
        if span <= 0:
            return current
        return len(self._sends) / span


class AdaptiveLimiter:
    """A `RateLimiter` whose rate follows throttles (see the module docstring).

    Args:
        ceiling: the configured rate (calls per second, or a `Rate`); never exceeded.
        burst, catch_up: as for `RateLimiter` (default 1 each).
        clock: the time source.
        floor: the lowest rate (default 2% of the ceiling; botocore's absolute 0.5 calls/s
            would be 30% of SchedulerX's whole quota).
        beta, recovery: the CUBIC parameters (see `CubicRate`).

    Implements `Pacer`; the executor calls `on_throttle()` and `on_success()` with every
    answer. `throttles` and `cuts` count what happened, for logs and benches.
    """

    def __init__(
        self,
        ceiling: float | Rate,
        *,
        burst: float = 1.0,
        catch_up: float = 1.0,
        clock: Clock | None = None,
        floor: float | None = None,
        beta: float = BETA,
        recovery: float = RECOVERY_SECONDS,
    ) -> None:
        self._clock = clock or SystemClock()
        self._limiter = RateLimiter(ceiling, burst=burst, catch_up=catch_up, clock=self._clock)
        top = self._limiter.ceiling
        self._cubic = CubicRate(
            ceiling=top,
            floor=min(top, floor if floor is not None else top * FLOOR_FRACTION),
            beta=beta,
            recovery=recovery,
        )
        self._meter = _Meter(MEASURE_WINDOW, MEASURE_CALLS)
        self._successes = _Meter(SUCCESS_WINDOW, SUCCESS_CALLS)
        self._window_ends = -math.inf
        self._floor = 0.0  # what the successes showed at the last cut (see on_throttle)
        self._window_throttles = self._window_answers = 0  # answers since the last cut
        self.throttles = 0
        self.cuts = 0

    @property
    def rate(self) -> float:
        return self._limiter.rate

    @property
    def ceiling(self) -> float:
        return self._limiter.ceiling

    @property
    def granted(self) -> int:
        return self._limiter.granted

    @property
    def limiter(self) -> RateLimiter:
        """The token bucket underneath (for inspection)."""
        return self._limiter

    async def acquire(self) -> None:
        await self._limiter.acquire()
        self._meter.record(self._clock.now())

    def try_acquire(self) -> bool:
        if not self._limiter.try_acquire():
            return False
        self._meter.record(self._clock.now())
        return True

    def on_throttle(self, *, sent_at: float, retry_after: float | None) -> None:
        self.throttles += 1
        if retry_after:
            self._limiter.pause(min(retry_after, RETRY_AFTER_CAP))
        now = self._clock.now()
        if sent_at < self._cubic.cut_at:
            return  # paced by the rate before the last cut: says nothing about this one
        self._window_throttles += 1
        if now < self._window_ends and not self._overloaded():
            return  # the same congestion window as the last cut: one event, one cut
        current = self._limiter.rate
        base = min(current, self._meter.rate(now, current))
        # Not far below what the successes have shown over a recovery's time, so that a
        # throttle that is noise, not quota, costs little; the curve still plateaus near
        # W_max as long as after a full cut. An evident overload gets the full cut.
        overloaded = self._overloaded()
        rate = self._cubic.cut(base, now)
        self._floor = (
            0.0
            if overloaded
            else min(base, FLOOR_OF_SUCCESSES * self._successes.rate(now, current))
        )
        rate = max(rate, self._floor)
        self._limiter.set_rate(rate)
        self._window_ends = now + max(CONGESTION_WINDOW, WINDOW_CALLS / rate)
        self._window_throttles = self._window_answers = 0
        self.cuts += 1

    def _overloaded(self) -> bool:
        """Whether this window's answers are mostly throttles: an overload no noise explains
        (the fault mixes we survive throttle a fifth of calls at most), so cut again now."""
        answers = self._window_throttles + self._window_answers
        return (
            self._window_throttles >= OVERLOAD_THROTTLES
            and self._window_throttles > OVERLOAD_SHARE * answers
        )

    def on_success(self) -> None:
        now = self._clock.now()
        self._successes.record(now)
        self._window_answers += 1
        if not self._cubic.engaged:
            return
        rate = self._cubic.at(now)
        measured = self._meter.rate(now, self._limiter.rate)
        # botocore: never more than twice what is actually being sent
        rate = max(self._cubic.clip(min(rate, 2 * measured)), self._floor)
        self._limiter.set_rate(rate)

    def __repr__(self) -> str:
        return (
            f"AdaptiveLimiter(rate={self._limiter.rate:.4g}/s, ceiling={self.ceiling:.4g}/s, "
            f"w_max={self._cubic.w_max:.4g}/s, throttles={self.throttles}, cuts={self.cuts}, "
            f"limiter={self._limiter!r})"
        )
