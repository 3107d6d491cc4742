"""One explicit account registry: per quota holder, the pacers and the cap every run shares.

SchedulerX's quotas belong to the account (100 RerunJob and 100 GetJobInstanceList calls a
minute), not to a run, so every run, reconciler and guard of one account in this process
must draw on the same pacers. An `Account` holds them: the RerunJob pacer (adaptive, found
from throttles), the read pacer, and optionally a cap on calls in flight for the account.

The rule when plans of different rates share an account (never "the first one wins"):
**the account sends at the lowest of its own rate (if one was registered) and the rates of
the plans running on it right now.** A plan of ``rate: 1/s`` joining one of ``10/s`` slows
the account to 1/s until it finishes. An account nobody registered takes its ceiling from
the first plan that runs on it, and again from the next plan to start once it is idle, so
a later, faster plan that joins while a slower one runs stays at the slower rate until the
account is idle again (the lower rate, never a faster one).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .._clock import Clock, SystemClock
from .._metrics import MeteredInstanceLister
from ..plan._model import Rate
from ._adaptive import AdaptiveLimiter
from ._concurrency import ConcurrencyLimiter
from ._finder import InstanceLister
from ._limiter import RateLimiter
from ._reconcile import Reconciler

# GetJobInstanceList's quota: 100 calls a minute per account, like RerunJob's.
DEFAULT_READ_RATE = Rate(100, 60)


def _per_second(rate: float | Rate) -> float:
    return rate.per_second if isinstance(rate, Rate) else float(rate)


class AccountPacer:
    """The account's RerunJob pacer: an adaptive limiter (the quota the account really
    leaves) behind a fixed cap at the lowest rate of the plans running now. A `Pacer`."""

    def __init__(self, ceiling: float, clock: Clock) -> None:
        self._clock = clock
        self.adaptive = AdaptiveLimiter(ceiling, clock=clock)
        self.cap = RateLimiter(ceiling, clock=clock)

    def rebuild(self, ceiling: float) -> None:
        """A new adaptive limiter at `ceiling` (only while nobody uses the account)."""
        self.adaptive = AdaptiveLimiter(ceiling, clock=self._clock)
        self.cap.set_rate(ceiling)

    async def acquire(self) -> None:
        await self.cap.acquire()
        await self.adaptive.acquire()

    def try_acquire(self) -> bool:
        if self.cap.waiting or self.cap.delay() > 0:
            return False
        if not self.adaptive.try_acquire():
            return False
        return self.cap.try_acquire()  # free a moment ago, and nothing awaited since

    def on_throttle(self, *, sent_at: float, retry_after: float | None) -> None:
        self.adaptive.on_throttle(sent_at=sent_at, retry_after=retry_after)

    def on_success(self) -> None:
        self.adaptive.on_success()

    @property
    def rate(self) -> float:
        return min(self.cap.rate, self.adaptive.rate)

    @property
    def ceiling(self) -> float:
        return min(self.cap.rate, self.adaptive.ceiling)

    def __repr__(self) -> str:
        return f"AccountPacer(rate={self.rate:.4g}/s, cap={self.cap!r}, adaptive={self.adaptive!r})"


class Account:
    """One quota holder: its pacers, its cap on calls in flight, the runs on it now.

    Attributes:
        name: the account (the AccessKey ID, or a name covering several keys).
        rerun: the RerunJob pacer every run of the account uses.
        reads: the GetJobInstanceList (and GetJobInfo) pacer: reconcilers, guards, checks.
        slots: the cap on calls in flight for the whole account, or None (each run its own).
    """

    def __init__(
        self,
        name: str,
        *,
        rate: float | Rate | None = None,
        read_rate: float | Rate = DEFAULT_READ_RATE,
        concurrency: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self._own_rate = None if rate is None else _per_second(rate)
        self._clock = clock or SystemClock()
        # an account nobody registered gets its ceiling from its first run (see `joined`)
        self.rerun = AccountPacer(self._own_rate or 1.0, self._clock)
        self._started = self._own_rate is not None
        self.reads = RateLimiter(read_rate, clock=self._clock)
        self.slots = None if concurrency is None else ConcurrencyLimiter(concurrency)
        self._running: list[float] = []

    @property
    def rate(self) -> float:
        """RerunJob calls per second the account permits right now (after throttles)."""
        return self.rerun.rate

    @property
    def ceiling(self) -> float:
        """The rate never exceeded now: the lowest of the account's and the running plans'."""
        return self.rerun.ceiling

    @property
    def running(self) -> int:
        """Runs on the account now."""
        return len(self._running)

    @contextmanager
    def joined(self, plan_rate: float | Rate) -> Iterator[AccountPacer]:
        """Hold the account to `plan_rate` (at most) while a run of that rate is on it."""
        rate = _per_second(plan_rate)
        if (
            not self._running
            and self._own_rate is None
            and (not self._started or rate != self.rerun.adaptive.ceiling)
        ):
            self.rerun.rebuild(rate)  # idle, and nobody set the account's rate: this plan's
            self._started = True
        self._running.append(rate)
        self._apply()
        try:
            yield self.rerun
        finally:
            self._running.remove(rate)
            self._apply()

    def _apply(self) -> None:
        rates = [*self._running, *([self._own_rate] if self._own_rate else [])]
        if rates:
            self.rerun.cap.set_rate(min(*rates, self.rerun.adaptive.ceiling))

    def reconciler(self, client: InstanceLister, *, timezone: str, **options: Any) -> Reconciler:
        """A `Reconciler` whose queries draw on this account's read pacer (and clock);
        `options` are the Reconciler's (``settle_seconds=0`` in tests)."""
        options.setdefault("clock", self._clock)
        metered = MeteredInstanceLister(client, self.name)  # GetJobInstanceList timed
        return Reconciler(metered, timezone=timezone, acquire=self.reads.acquire, **options)

    def __repr__(self) -> str:
        return (
            f"Account({self.name!r}, rate={self.rate:.4g}/s, ceiling={self.ceiling:.4g}/s, "
            f"running={self.running})"
        )


class AccountRegistry:
    """Every account of this process by name; `default_accounts` is the one runs use."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock  # for the accounts it sets up (a test's `FakeClock`)
        self._accounts: dict[str, Account] = {}  # registered: kept for the process
        # set up on first use: kept while a run (or you) holds them, as `shared_limiters`
        self._implicit: weakref.WeakValueDictionary[str, Account] = weakref.WeakValueDictionary()

    def register(
        self,
        name: str,
        *,
        rate: float | Rate | None = None,
        read_rate: float | Rate = DEFAULT_READ_RATE,
        concurrency: int | None = None,
        clock: Clock | None = None,
    ) -> Account:
        """Set up `name` with its own rate, read rate and cap (before its first run).

        Raises:
            ValueError: the account is already known (its pacers are in use).
        """
        if name in self._accounts or name in self._implicit:
            raise ValueError(f"account {name!r} is already in use; use get()")
        account = Account(
            name,
            rate=rate,
            read_rate=read_rate,
            concurrency=concurrency,
            clock=clock or self._clock,
        )
        self._accounts[name] = account
        return account

    def get(self, name: str, *, clock: Clock | None = None) -> Account:
        """The account `name`: the registered one, else one set up with defaults on first
        use (and forgotten once no run holds it, so a service does not accumulate them).
        `clock` (else the registry's, else the system clock) paces an account it sets up."""
        account = self._accounts.get(name) or self._implicit.get(name)
        if account is None:
            account = self._implicit[name] = Account(name, clock=clock or self._clock)
        return account

    def __contains__(self, name: object) -> bool:
        return name in self._accounts or name in self._implicit

    def __iter__(self) -> Iterator[Account]:
        return iter([*self._accounts.values(), *self._implicit.values()])

    def __len__(self) -> int:
        return len(self._accounts) + len(self._implicit)

    def __repr__(self) -> str:
        return f"AccountRegistry({sorted(a.name for a in self)!r})"


#: The process-wide registry: `run_plan(..., account="...")` uses it unless given another.
default_accounts = AccountRegistry()

__all__ = ["Account", "AccountPacer", "AccountRegistry", "default_accounts"]
