"""The rate limiter: a token bucket on an injected clock, fair to its waiters.

A bucket holds at most `burst` tokens and refills at `rate` per second; each call takes
one. Over any window of W seconds it therefore lets through at most ``burst + rate * W``
calls, which is the property the tests check. Waiters are served strictly first come,
first served (aiolimiter, before 1.2, let late arrivals overtake): only the head of the
queue sleeps on the clock, the others wait their turn, so a rate change or a pause is seen
by the next waiter at once.

**Wake-up lag is repaid, not lost.** A waiter asks to wake when its token is due, and the
event loop wakes it a little later (epoll rounds up to the millisecond, other tasks run
first). A plain bucket of one token drops the refill of that lag, so every call starts the
next interval late and the losses add up: about 2% of the quota at 20 calls/s on a quiet
machine, 10-25% on a loaded one. Here, while a caller is *waiting*, the bucket may fill up
to `catch_up` tokens above `burst`, so the late waiter's successor is due on the original
schedule: the grants keep to the theoretical arrival times of GCRA (as aiometer paces),
trailing them by the lag, never leading them. Time nobody waited for earns no catch-up, so
an idle limiter still starts with no burst. On an exact clock no grant is ever late and the
bound above holds as stated; on a real one a window can hold at most ``catch_up`` more.

SchedulerX's quota is per account and API, not per run, so one process must pace every run
on the same AccessKey through one limiter: `LimiterRegistry` hands out the shared one.
"""

from __future__ import annotations

import math
import weakref
from collections import deque
from typing import Protocol

import anyio

from .._clock import Clock, SystemClock
from ..plan._model import Rate


class Pacer(Protocol):
    """What the executor needs from a limiter: a token per call, and throttle feedback.

    `RateLimiter` (fixed rate) and `AdaptiveLimiter` (finds the rate) both implement it;
    so can anything an embedding service brings (a limiter shared through Redis, say).
    """

    async def acquire(self) -> None:
        """Wait for permission to send one call."""
        ...

    def try_acquire(self) -> bool:
        """Take permission now if it is free (and nobody waits); never blocks."""
        ...

    def on_throttle(self, *, sent_at: float, retry_after: float | None) -> None:
        """A call sent at clock time `sent_at` was throttled; pause `retry_after` s if given."""
        ...

    def on_success(self) -> None:
        """A call was answered without a throttle."""
        ...

    @property
    def rate(self) -> float:
        """Calls per second permitted right now."""
        ...

    @property
    def ceiling(self) -> float:
        """Calls per second never exceeded (the configured rate)."""
        ...


class RateLimiter:
    """A fair token bucket: at most `burst` calls at once, `rate` calls per second after.

    Args:
        rate: calls per second (> 0), or a `Rate` such as ``Rate(100, 60)``.
        burst: bucket size (≥ 1). The default 1 sends no burst at all: SchedulerX's own
            bucket holds about one second of quota and is shared with every other caller of
            the account, so a client-side burst mostly buys throttles.
        catch_up: tokens of wake-up lag a waiting caller may repay (≥ 0; default 1, one
            interval: lag beyond that is a stall, not rounding, and is not made up for).
            0 makes a plain token bucket.
        clock: the time source; `SystemClock` by default.

    The bucket starts full. `set_rate()` changes the pace (the adaptive controller does);
    `pause()` stops every waiter until a point in time (``x-acs-retry-after``).
    """

    def __init__(
        self,
        rate: float | Rate,
        *,
        burst: float = 1.0,
        catch_up: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        per_second = rate.per_second if isinstance(rate, Rate) else float(rate)
        _check_rate(per_second)
        if not (math.isfinite(burst) and burst >= 1):
            raise ValueError(f"burst must be a finite number >= 1, got {burst!r}")
        if not (math.isfinite(catch_up) and catch_up >= 0):
            raise ValueError(f"catch_up must be a finite number >= 0, got {catch_up!r}")
        self._clock = clock or SystemClock()
        self._rate = per_second
        self._ceiling = per_second
        self._burst = float(burst)
        self._catch_up = float(catch_up)
        self._tokens = float(burst)
        self._updated = self._clock.now()
        self._paused_until = -math.inf
        self._waiters: deque[anyio.Event] = deque()
        self.granted = 0  # tokens handed out so far, for progress displays and benches

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def ceiling(self) -> float:
        return self._ceiling

    @property
    def burst(self) -> float:
        return self._burst

    @property
    def waiting(self) -> int:
        """Callers queued in `acquire()`."""
        return len(self._waiters)

    def set_rate(self, rate: float) -> None:
        """Pace at `rate` calls per second from now on (tokens earned so far are kept)."""
        _check_rate(rate)
        self._refill()
        self._rate = float(rate)

    def pause(self, seconds: float) -> None:
        """Grant nothing for `seconds` from now, and allow no burst afterwards.

        The bucket stops filling during the pause and keeps at most one token: otherwise it
        would release a burst into a server that has just said it is overloaded.
        """
        if seconds <= 0:
            return
        until = self._clock.now() + seconds
        if until > self._paused_until:
            self._refill()
            self._paused_until = until
            self._tokens = min(self._tokens, 1.0)
            self._updated = until

    def delay(self) -> float:
        """Seconds until a token is available (0 if one is available now)."""
        self._refill()
        now = self._clock.now()
        wait = max(0.0, self._paused_until - now)
        if self._tokens < 1 - _EPSILON:
            # refill counts only from `_updated`, which a pause pushes into the future
            wait = max(wait, self._updated - now + (1 - self._tokens) / self._rate)
        return wait

    def try_acquire(self) -> bool:
        """Take a token if one is free and nobody is queued; never blocks."""
        if self._waiters or self.delay() > 0:
            return False
        self._take()
        return True

    async def acquire(self) -> None:
        """Wait until a token is free and take it; waiters are served in arrival order."""
        if not self._waiters and self.delay() <= 0:
            # trio's convention: a cancellation point first, then take without yielding, so a
            # token is never taken by a caller that is cancelled before it can use it
            await anyio.lowlevel.checkpoint_if_cancelled()
            self._take()
            await anyio.lowlevel.cancel_shielded_checkpoint()
            return
        turn = anyio.Event()
        self._waiters.append(turn)
        try:
            if self._waiters[0] is not turn:
                await turn.wait()
            while (wait := self.delay()) > 0:
                await self._clock.sleep(wait)
            self._take()
        finally:
            head = self._waiters[0] is turn
            self._waiters.remove(turn)
            if head and self._waiters:
                self._waiters[0].set()

    # A fixed-rate limiter takes feedback as a pause only; `AdaptiveLimiter` also adapts.
    def on_throttle(self, *, sent_at: float, retry_after: float | None) -> None:
        if retry_after:
            self.pause(retry_after)

    def on_success(self) -> None:
        pass

    def _refill(self) -> None:
        now = self._clock.now()
        if now > self._updated:
            # every refill happens at an arrival or a wake-up, so if somebody is queued now,
            # somebody has been waiting since the last refill: the lag may be repaid
            cap = self._burst + self._catch_up if self._waiters else self._burst
            self._tokens = min(cap, self._tokens + (now - self._updated) * self._rate)
            self._updated = now

    def _take(self) -> None:
        self._refill()
        self._tokens -= 1
        self.granted += 1

    def __repr__(self) -> str:
        self._refill()
        paused = max(0.0, self._paused_until - self._clock.now())
        return (
            f"RateLimiter(rate={self._rate:.4g}/s, burst={self._burst:g}, "
            f"catch_up={self._catch_up:g}, "
            f"tokens={self._tokens:.3f}, waiting={len(self._waiters)}, paused={paused:.3g}s)"
        )


# Refill arithmetic in floats lands a hair below a whole token; without this tolerance a
# waiter would sleep for 1e-16 s forever on a clock that cannot represent the step.
_EPSILON = 1e-9


def _check_rate(rate: float) -> None:
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be a finite number of calls per second > 0, got {rate!r}")


class LimiterRegistry:
    """One pacer per (account, API) in this process, shared by every run that asks.

    The key's account part is whatever identifies the quota holder: the AccessKey ID by
    default (the only identity a client can see), or an account name an embedding service
    knows to cover several AccessKeys. The first caller's pacer wins; later callers get it as
    it is, adapted state included, which is the point. Entries disappear once no run holds
    them (weak references), so a long-lived service does not accumulate them.
    """

    def __init__(self) -> None:
        self._pacers: weakref.WeakValueDictionary[tuple[str, str], Pacer] = (
            weakref.WeakValueDictionary()
        )

    def get(self, account: str, api: str, factory: _PacerFactory) -> Pacer:
        """The shared pacer for (`account`, `api`), built by `factory()` on first use."""
        key = (account, api)
        pacer = self._pacers.get(key)
        if pacer is None:
            pacer = factory()
            self._pacers[key] = pacer
        return pacer

    def __len__(self) -> int:
        return len(self._pacers)

    def __repr__(self) -> str:
        return f"LimiterRegistry({sorted(self._pacers.keys())!r})"


class _PacerFactory(Protocol):
    def __call__(self) -> Pacer: ...


#: The process-wide registry `run` uses unless given a limiter.
shared_limiters = LimiterRegistry()
