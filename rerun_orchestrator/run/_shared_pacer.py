"""The account's quota shared through the PostgreSQL journal: one pace for every replica.

SchedulerX's quota belongs to the account, so replicas that each paced themselves at the
plan's rate would together send it several times over. Here one row per (account, API)
in ``rerun_quota`` holds a GCRA schedule: the *theoretical arrival time* (TAT) of the
next call. A caller reserves its slot in one ``UPDATE … RETURNING`` (database time, so
replicas need no synchronised clocks): it may send at ``max(now, tat - tau, paused)``
and the TAT moves one emission interval (1/rate) past that; it then sleeps until its
slot. Over any window of W seconds the calls of all replicas together stay within
``burst + rate * W``, as with the in-process `RateLimiter`.

A throttle seen by any replica pushes the row's ``paused_until`` forward (by the
server's ``Retry-After``, else one second), and every replica's next reservation honours
it: the shared backoff. No adaptive search for the rate here: the plan's rate is taken
as the account's budget, and throttles from callers outside the plan only pause it.

`try_acquire` always says no (a reservation is a round trip); the executor then awaits
`acquire`, which reserves in a worker thread.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio

from .._clock import Clock, SystemClock
from ..plan._model import Rate

if TYPE_CHECKING:
    import psycopg

DEFAULT_PAUSE_SECONDS = 1.0

_RESERVE = """
WITH cur AS (
    SELECT tat, paused_until, clock_timestamp() AS now
    FROM rerun_quota WHERE account = %(account)s AND api = %(api)s FOR UPDATE
), slot AS (
    SELECT GREATEST(now, paused_until, tat - make_interval(secs => %(tau)s)) AS send, tat, now
    FROM cur
)
UPDATE rerun_quota q
SET tat = GREATEST(slot.tat, slot.send) + make_interval(secs => %(interval)s)
FROM slot WHERE q.account = %(account)s AND q.api = %(api)s
RETURNING EXTRACT(EPOCH FROM slot.send)::float8, EXTRACT(EPOCH FROM slot.now)::float8
"""
_ENSURE = (
    "INSERT INTO rerun_quota (account, api) VALUES (%s, %s) ON CONFLICT (account, api) DO NOTHING"
)
_PAUSE = (
    "UPDATE rerun_quota SET paused_until = GREATEST(paused_until, "
    "clock_timestamp() + make_interval(secs => %s)) WHERE account = %s AND api = %s"
)


class SharedPacer:
    """A `Pacer` whose schedule lives in the database, shared by every replica."""

    def __init__(
        self,
        connect: Callable[[], contextlib.AbstractContextManager[psycopg.Connection[Any]]],
        account: str,
        api: str,
        rate: float | Rate,
        *,
        burst: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        per_second = rate.per_second if isinstance(rate, Rate) else float(rate)
        if not (math.isfinite(per_second) and per_second > 0):
            raise ValueError(f"rate must be a finite number of calls per second > 0: {rate!r}")
        if not (math.isfinite(burst) and burst >= 1):
            raise ValueError(f"burst must be a finite number >= 1, got {burst!r}")
        self._connect = connect
        self._account = account
        self._api = api
        self._rate = per_second
        self._burst = float(burst)
        self._clock = clock or SystemClock()
        self.granted = 0
        with self._connect() as conn:
            conn.execute(_ENSURE, (account, api))

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def ceiling(self) -> float:
        return self._rate

    @property
    def burst(self) -> float:
        return self._burst

    def reserve(self) -> float:
        """Reserve the next slot of the shared schedule; seconds to wait until it."""
        send, now = self.reserve_slot()
        return max(0.0, send - now)

    def reserve_slot(self) -> tuple[float, float]:
        """Reserve the next slot: (when it is, database time now), in epoch seconds."""
        params = {
            "account": self._account,
            "api": self._api,
            "tau": (self._burst - 1.0) / self._rate,
            "interval": 1.0 / self._rate,
        }
        with self._connect() as conn:
            row = conn.execute(_RESERVE, params).fetchone()
            if row is None:  # the row went away (a truncated table): make it again
                conn.execute(_ENSURE, (self._account, self._api))
                row = conn.execute(_RESERVE, params).fetchone()
        if row is None:
            raise RuntimeError(f"no quota row for ({self._account!r}, {self._api!r})")
        return float(row[0]), float(row[1])

    def try_acquire(self) -> bool:
        return False  # every grant is a database round trip: see `acquire`

    async def acquire(self) -> None:
        wait = await anyio.to_thread.run_sync(self.reserve)
        if wait > 0:
            await self._clock.sleep(wait)
        self.granted += 1

    def on_throttle(self, *, sent_at: float, retry_after: float | None) -> None:
        """Pause every replica: the account's quota is spent for now."""
        pause = retry_after if retry_after and retry_after > 0 else DEFAULT_PAUSE_SECONDS
        with self._connect() as conn:
            conn.execute(_PAUSE, (pause, self._account, self._api))

    def on_success(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"SharedPacer({self._api}, rate={self._rate:.4g}/s, burst={self._burst:g})"


def shared_pacer_for(
    journal: object, account: str, api: str, rate: float | Rate
) -> SharedPacer | None:
    """The shared pacer of a journal that has a database (PostgreSQL), else None."""
    connect = getattr(journal, "connection", None)
    if connect is None or not callable(connect):
        return None
    return SharedPacer(connect, account, api, rate)


def replica_line(journal: object) -> str | None:
    """The summary's line about this replica of a shared journal (None for a file)."""
    leases = getattr(journal, "leases", None)
    owner = getattr(journal, "owner", None)
    if leases is None or owner is None:
        return None
    refused = getattr(journal, "outcomes_refused", 0)
    line = f"replica {owner}: took over {leases.taken_over} jobs whose holder's lease expired"
    if refused:
        line += f"; {refused} outcomes refused (lease lost; the new holder reconciles them)"
    return line
