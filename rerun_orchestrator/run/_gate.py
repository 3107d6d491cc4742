"""The retry gate: a spent retry budget slows the run down; it never gives up on chunks.

The budget (`RetryBudget`, the SRE book's 10%) says how many retries a healthy run may
add. When it is spent the service is in trouble, and the gate *opens* like a circuit
breaker: retries wait out a cooldown (doubling per opening, up to `COOLDOWN_CAP`), then one
waiting retry goes as a probe (half-open) while the others wait for its answer. An answer
that shows the service working again (a success or an explicit refusal, not another
throttle, 5xx or lost answer) closes the gate and refills the budget's floor; a bad one
opens it again for longer. First attempts are not gated: they feed the budget and are
paced by the rate limiter.
"""

from __future__ import annotations

import enum

import anyio

from .._clock import Clock
from ._backoff import Backoff, RetryBudget

COOLDOWN_BASE = 2.0  # seconds, first opening
COOLDOWN_CAP = 120.0  # seconds; a probe at least every two minutes while the service is down


class Turn(enum.Enum):
    GO = "go"  # the budget allows it: an ordinary retry
    PROBE = "probe"  # the gate is half-open and this retry tests the service
    WAIT = "wait"  # not yet: ask again (the caller checks its stall limit in between)


class RetryGate:
    """Admits retries within the budget; when it is spent, cooldown, probe, recover."""

    def __init__(
        self,
        budget: RetryBudget,
        clock: Clock,
        *,
        cooldown: Backoff | None = None,
    ) -> None:
        self.budget = budget
        self._clock = clock
        self._cooldown = cooldown or Backoff(COOLDOWN_BASE, COOLDOWN_CAP)
        self._open_until: float | None = None
        self._openings = 0
        self._probe_since: float | None = None
        self._changed = anyio.Event()

    @property
    def is_open(self) -> bool:
        return self._open_until is not None

    @property
    def openings(self) -> int:
        """Times the gate opened since it last closed."""
        return self._openings

    def try_pass(self) -> bool:
        """True if a retry may go now; False opens the gate (then await `turn`)."""
        if self._open_until is None and self.budget.try_spend():
            return True
        if self._open_until is None:
            self._open()
        return False

    async def turn(self) -> Turn:
        """Wait (at most one cooldown) for this retry's turn."""
        if self._open_until is None:
            if self.budget.try_spend():
                return Turn.GO
            self._open()
        assert self._open_until is not None
        wait = self._open_until - self._clock.now()
        if wait > 0:
            await self._clock.sleep(wait)
            return Turn.WAIT
        probe_since = self._probe_since
        if probe_since is None or self._clock.now() - probe_since > self._cooldown.cap:
            self._probe_since = self._clock.now()  # a lost probe is replaced after a while
            return Turn.PROBE
        changed = self._changed
        with anyio.move_on_after(self._cooldown.cap):
            await changed.wait()
        return Turn.WAIT

    def answered(self, *, healthy: bool, probe: bool) -> None:
        """An attempt's answer: `healthy` if the service did its job (accepted or refused)."""
        if self._open_until is None:
            return
        if healthy:
            self._open_until = self._probe_since = None
            self._openings = 0
            self.budget.refill()
        elif probe:
            self._probe_since = None
            self._open()
        else:
            return
        self._changed.set()
        self._changed = anyio.Event()

    def _open(self) -> None:
        self._openings += 1
        self._open_until = self._clock.now() + self._cooldown.ceiling(self._openings)

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"RetryGate({state}, openings={self._openings}, {self.budget!r})"
