"""Backoff and the retry budget: how long to wait before a retry, and whether one is allowed.

Pure values; time and randomness come from outside.

Backoff is exponential with *full jitter* (AWS Architecture Blog, "Exponential Backoff and
Jitter"): ``sleep = uniform(0, min(cap, base * 2^(n-1)))`` before retry n. Jitter spreads a
crowd of clients that failed together; full jitter makes the fewest calls of the variants
measured there. The defaults are botocore's standard mode: base 1 s, cap 20 s (also the
legacy aliyun-python-sdk-core's cap).

The retry budget is the Google SRE book's rule ("Handling Overload"): retries may be at most
10% of the requests a client sends, so that an overloaded service sees at most 1.1x its load
instead of Nx. No Python retry library ships one; botocore's standard mode has a
token-bucket version (500 tokens, 5 per retry, 1 back per success). A small floor lets a
run of a few chunks retry at all.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

BACKOFF_BASE = 1.0  # seconds; botocore standard mode
BACKOFF_CAP = 20.0  # seconds; botocore standard mode and aliyun-python-sdk-core
BUDGET_RATIO = 0.1  # Google SRE book: retries ≤ 10% of requests
BUDGET_FLOOR = 10  # retries always allowed, however small the run


@dataclass(frozen=True, slots=True)
class Backoff:
    """Full-jitter exponential backoff.

    Args:
        base: the first retry's ceiling, seconds.
        cap: no wait ever exceeds this, seconds.

    Each `delay()` draws exactly one ``rng.random()``, so a seeded `random.Random` gives an
    exact, repeatable sequence.
    """

    base: float = BACKOFF_BASE
    cap: float = BACKOFF_CAP

    def __post_init__(self) -> None:
        if not (math.isfinite(self.base) and self.base > 0):
            raise ValueError(f"base must be > 0 seconds, got {self.base!r}")
        if not (math.isfinite(self.cap) and self.cap >= self.base):
            raise ValueError(f"cap must be >= base, got {self.cap!r}")

    def ceiling(self, retry: int) -> float:
        """The upper bound of the wait before retry number `retry` (1-based)."""
        if retry < 1:
            raise ValueError(f"retry numbers start at 1, got {retry!r}")
        # min() before the power would overflow for a very long retry sequence
        exponent = min(retry - 1, 64)
        return min(self.cap, self.base * 2.0**exponent)

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number `retry` (1-based): uniform in [0, ceiling)."""
        return rng.random() * self.ceiling(retry)


class RetryBudget:
    """Retries allowed so far: ``floor + ratio * first attempts``, shared by a whole run.

    Args:
        ratio: retries per first attempt (0.1: the SRE book's 10%).
        floor: retries allowed regardless (so that a run of three chunks may retry).

    Call `first_attempt()` for every chunk's first send in this run and `try_spend()` before
    every retry; when it returns False the run slows down (`RetryGate`: a cooldown, then a
    probe) instead of adding load to a service that is already failing.
    """

    def __init__(self, ratio: float = BUDGET_RATIO, floor: int = BUDGET_FLOOR) -> None:
        if not (math.isfinite(ratio) and ratio >= 0):
            raise ValueError(f"ratio must be >= 0, got {ratio!r}")
        if floor < 0:
            raise ValueError(f"floor must be >= 0, got {floor!r}")
        self.ratio = ratio
        self.floor = floor
        self.first_attempts = 0
        self.retries = 0
        self.refused = 0

    @property
    def allowed(self) -> float:
        """Total retries allowed by now."""
        return self.floor + self.ratio * self.first_attempts

    @property
    def remaining(self) -> float:
        return max(0.0, self.allowed - self.retries)

    def first_attempt(self) -> None:
        self.first_attempts += 1

    def try_spend(self) -> bool:
        """Take one retry from the budget; False (and nothing taken) when it is spent."""
        if self.retries + 1 > self.allowed:
            self.refused += 1
            return False
        self.retries += 1
        return True

    def refill(self) -> None:
        """The service recovered (a probe succeeded): allow `floor` retries again."""
        self.retries = min(self.retries, max(0, math.floor(self.allowed) - self.floor))

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self.ratio:g}, floor={self.floor}, "
            f"first_attempts={self.first_attempts}, retries={self.retries}, "
            f"refused={self.refused})"
        )
