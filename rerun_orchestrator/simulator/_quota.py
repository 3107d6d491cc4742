"""The server-side API quota: a token bucket per API per account.

SchedulerX allows each API 100 calls per minute per Alibaba Cloud account (all its
AccessKeys share it). The simulator enforces the same shape so that a client's pacing is
measured against a real limit: a bucket that refills continuously at the quota's rate
and holds at most `burst` tokens (one second's worth, at least 1, unless configured).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|min|minute|h|hour)\s*$")
_PER_SECONDS = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0}
_PER_SECONDS |= {"h": 3600.0, "hour": 3600.0}


def parse_rate(text: str) -> float:
    """Calls per second from ``"N/s"``, ``"N/min"`` or ``"N/h"`` (N may be a decimal)."""
    match = _RATE.match(text)
    if match is None:
        raise ValueError(f"a rate looks like '100/min' or '1.5/s', got {text!r}")
    per_second = float(match[1]) / _PER_SECONDS[match[2]]
    if per_second <= 0:
        raise ValueError(f"a rate must be positive, got {text!r}")
    return per_second


@dataclass(frozen=True, slots=True)
class QuotaSpec:
    """A quota: `rate_per_s` tokens per second, at most `burst` saved up."""

    rate_per_s: float
    burst: float

    def __post_init__(self) -> None:
        if self.rate_per_s <= 0:
            raise ValueError(f"quota rate must be positive, got {self.rate_per_s}")
        if self.burst < 1:
            raise ValueError(f"quota burst must be >= 1, got {self.burst}")

    @classmethod
    def parse(cls, value: str | Mapping[str, Any] | QuotaSpec) -> QuotaSpec:
        """From ``"100/min"`` or ``{rate: "100/min", burst: 10}``."""
        if isinstance(value, QuotaSpec):
            return value
        if isinstance(value, str):
            rate = parse_rate(value)
            return cls(rate, max(1.0, rate))
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - {"rate", "burst"})
            if unknown or "rate" not in value:
                raise ValueError(f"a quota mapping has 'rate' and optional 'burst', got {value!r}")
            rate = parse_rate(str(value["rate"]))
            burst = value.get("burst")
            if burst is None:
                return cls(rate, max(1.0, rate))
            if isinstance(burst, bool) or not isinstance(burst, int | float):
                raise ValueError(f"quota burst must be a number, got {burst!r}")  # noqa: TRY004
            return cls(rate, float(burst))
        raise ValueError(f"a quota is 'N/min', 'N/s' or {{rate, burst}}, got {value!r}")

    def describe(self) -> str:
        return f"{self.rate_per_s * 60:g}/min (burst {self.burst:g})"


class TokenBucket:
    """One bucket; time comes from the caller so tests can drive it (monotonic seconds)."""

    def __init__(self, spec: QuotaSpec, now: float) -> None:
        self._spec = spec
        self._tokens = spec.burst
        self._updated = now

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._spec.burst, self._tokens + elapsed * self._spec.rate_per_s)
        self._updated = max(self._updated, now)

    def try_take(self, now: float) -> int | None:
        """Take one token: None if granted, else milliseconds until one is available."""
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        wait_s = (1.0 - self._tokens) / self._spec.rate_per_s
        return max(1, math.ceil(wait_s * 1000))

    def __repr__(self) -> str:
        return f"TokenBucket({self._spec.describe()}, tokens={self._tokens:.2f})"


class QuotaTable:
    """Buckets per (API, account), created on first use from the configured specs.

    `specs` maps an API action to its quota (None: unlimited); `default` applies to
    actions not listed.
    """

    def __init__(self, specs: Mapping[str, QuotaSpec | None], default: QuotaSpec | None) -> None:
        self._specs = dict(specs)
        self._default = default
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def take(self, action: str, account: str, now: float) -> int | None:
        """None if the call is within quota, else the wait in ms before a retry can pass."""
        spec = self._specs.get(action, self._default)
        if spec is None:
            return None
        bucket = self._buckets.get((action, account))
        if bucket is None:
            bucket = self._buckets[(action, account)] = TokenBucket(spec, now)
        return bucket.try_take(now)

    def reset(self) -> None:
        self._buckets.clear()

    def __repr__(self) -> str:
        return f"QuotaTable(buckets={len(self._buckets)})"
