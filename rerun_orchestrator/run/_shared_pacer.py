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
server's ``Retry-After``, capped at 60 s, else one second), and every replica's next
reservation honours it: the shared backoff. The row's rate adapts as `AdaptiveLimiter`'s
does in one process (`_adaptive.CubicRate`: cut to β = 0.7 on a throttle, recover along
the CUBIC curve over `recovery` seconds, never above the plan's rate nor below its
floor), with the curve's state (W_max, time of the cut) in the row and evaluated in SQL
at database time, so every replica paces by the same adapted rate. As in process, a
throttle answering a call sent before the last cut, or within the congestion window
after it, does not cut again: the calls of all replicas in flight at a throttle make one
cut, not 0.7^n. Not kept from botocore: "never above twice the measured send rate" (one
replica's sends say nothing of the others').

`try_acquire` always says no (a reservation is a round trip); the executor then awaits
`acquire`, which reserves in a worker thread. `on_throttle`, called on the event loop,
hands the row's update to a thread of its own (the loop never waits for the database);
this replica's next reservation waits for it to land. (Not a local pause on top: calls
already slotted would wake together at its end, with the slots after the pause.)
Through the journal (`shared_pacer_for`), every statement waits out a database restart
as the journal's own calls do.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import anyio
import structlog

from .._clock import Clock, SystemClock
from ..plan._model import Rate
from ._adaptive import (
    BETA,
    CONGESTION_WINDOW,
    FLOOR_FRACTION,
    RECOVERY_SECONDS,
    RETRY_AFTER_CAP,
    WINDOW_CALLS,
    CubicRate,
)

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")
_log = structlog.get_logger("rerun_orchestrator.run")
DEFAULT_PAUSE_SECONDS = 1.0

# The row's rate at `now`: the plan's rate until the first cut, then the CUBIC curve
# C·(t - cut - K)³ + W_max, clipped to [floor, ceiling] (`_adaptive.CubicRate.at`).
_RATE = """
CASE WHEN NOT %(adaptive)s OR cut_at IS NULL OR w_max IS NULL THEN %(ceiling)s::float8
ELSE LEAST(%(ceiling)s::float8, GREATEST(%(floor)s::float8,
    %(scale)s * power(EXTRACT(EPOCH FROM now - cut_at)::float8
        - cbrt(w_max * (1 - %(beta)s) / %(scale)s), 3) + w_max))
END
"""
# `now` is database time; a test passes its fake clock's wall time instead.
_CURRENT = f"""
cur AS (
    SELECT tat, paused_until, w_max, cut_at,
        COALESCE(to_timestamp(%(now)s::float8), clock_timestamp()) AS now
    FROM rerun_quota WHERE account = %(account)s AND api = %(api)s FOR UPDATE
), rated AS (SELECT *, {_RATE} AS rate FROM cur)
"""  # noqa: S608 - constant fragments, values are parameters
_RESERVE = f"""
WITH {_CURRENT}, slot AS (
    SELECT GREATEST(now, paused_until, tat - make_interval(secs => (%(burst)s - 1) / rate))
        AS send, tat, now, rate
    FROM rated
)
UPDATE rerun_quota q
SET tat = GREATEST(slot.tat, slot.send) + make_interval(secs => 1 / slot.rate)
FROM slot WHERE q.account = %(account)s AND q.api = %(api)s
RETURNING EXTRACT(EPOCH FROM slot.send)::float8, EXTRACT(EPOCH FROM slot.now)::float8,
    slot.rate
"""  # noqa: S608 - constant fragments, values are parameters
# A throttle: pause every replica; cut the rate unless the call was sent before the last
# cut or the last cut's congestion window is still open (one overload, one cut).
_THROTTLE = f"""
WITH {_CURRENT}, judged AS (
    SELECT *, %(adaptive)s AND (cut_at IS NULL OR (
        to_timestamp(COALESCE(%(sent)s, EXTRACT(EPOCH FROM now))::float8) >= cut_at
        AND now >= cut_at + make_interval(secs => GREATEST(%(window)s, %(calls)s / rate))
    )) AS cuts FROM rated
)
UPDATE rerun_quota q SET
    w_max = CASE WHEN judged.cuts THEN judged.rate ELSE q.w_max END,
    cut_at = CASE WHEN judged.cuts THEN judged.now ELSE q.cut_at END,
    paused_until = GREATEST(q.paused_until, judged.now + make_interval(secs => %(pause)s))
FROM judged WHERE q.account = %(account)s AND q.api = %(api)s
RETURNING judged.cuts, CASE WHEN judged.cuts THEN GREATEST(%(floor)s::float8,
    judged.rate * %(beta)s) ELSE judged.rate END
"""  # noqa: S608 - constant fragments, values are parameters
_ENSURE = (
    "INSERT INTO rerun_quota (account, api) VALUES (%s, %s) ON CONFLICT (account, api) DO NOTHING"
)


class Retry(Protocol):
    """Runs `work` on a connection, waiting out an outage (`PostgresJournal.retry`)."""

    def __call__(self, work: Callable[[psycopg.Connection[Any]], T], /) -> T: ...


class SharedPacer:
    """A `Pacer` whose schedule and adapted rate live in the database, shared by every
    replica.

    Args:
        connect: a pooled connection's context manager (the journal's `connection`).
        account, api: the quota's row.
        rate: the plan's rate: the ceiling, never exceeded.
        burst: calls that may go at once after a quiet spell (default 1).
        adaptive: cut the shared rate on throttles and recover (default); if False, a
            throttle only pauses.
        clock: sleeps (and, for tests, the time the row is judged at: see `fake_time`).
        floor, beta, recovery: as `AdaptiveLimiter`'s.
        fake_time: use `clock.wall()` instead of database time (tests with a fake clock).
        retry: runs a statement's work on a connection, waiting out an outage (the
            journal's `retry`); by default one try on a `connect`ed connection.
    """

    def __init__(
        self,
        connect: Callable[[], contextlib.AbstractContextManager[psycopg.Connection[Any]]],
        account: str,
        api: str,
        rate: float | Rate,
        *,
        burst: float = 1.0,
        adaptive: bool = True,
        clock: Clock | None = None,
        floor: float | None = None,
        beta: float = BETA,
        recovery: float = RECOVERY_SECONDS,
        fake_time: bool = False,
        retry: Retry | None = None,
    ) -> None:
        per_second = rate.per_second if isinstance(rate, Rate) else float(rate)
        if not (math.isfinite(per_second) and per_second > 0):
            raise ValueError(f"rate must be a finite number of calls per second > 0: {rate!r}")
        if not (math.isfinite(burst) and burst >= 1):
            raise ValueError(f"burst must be a finite number >= 1, got {burst!r}")
        # Validates floor, beta and recovery as the in-process curve does.
        curve = CubicRate(
            ceiling=per_second,
            floor=min(per_second, floor if floor is not None else per_second * FLOOR_FRACTION),
            beta=beta,
            recovery=recovery,
        )
        self._connect = connect
        self._retry = retry or self._once
        self._account = account
        self._api = api
        self._ceiling = per_second
        self._rate = per_second
        self._burst = float(burst)
        self._clock = clock or SystemClock()
        self._fake_time = fake_time
        self._params: dict[str, Any] = {
            "account": account,
            "api": api,
            "adaptive": adaptive,
            "ceiling": per_second,
            "floor": curve.floor,
            "beta": curve.beta,
            "scale": curve.scale,
            "burst": self._burst,
            "window": CONGESTION_WINDOW,
            "calls": float(WINDOW_CALLS),
        }
        self._offset: float | None = None  # database time minus the clock's, at a grant
        self._pending: list[concurrent.futures.Future[None]] = []
        self._worker: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending_lock = threading.Lock()
        self.granted = 0
        self.throttles = 0
        self.cuts = 0
        # The row is made by the first statement that finds it missing (`_execute`), in a
        # worker thread: building a pacer on the event loop waits for no database.

    def _once(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        with self._connect() as conn:
            return work(conn)

    @property
    def rate(self) -> float:
        """The shared rate as this replica last saw it (calls per second)."""
        return self._rate

    @property
    def ceiling(self) -> float:
        return self._ceiling

    @property
    def burst(self) -> float:
        return self._burst

    def reserve(self) -> float:
        """Reserve the next slot of the shared schedule; seconds to wait until it."""
        send, now = self.reserve_slot()
        return max(0.0, send - now)

    def reserve_slot(self) -> tuple[float, float]:
        """Reserve the next slot: (when it is, database time now), in epoch seconds."""
        self.wait_throttles()
        local = self._clock.now()
        row = self._execute(_RESERVE, {})
        send, now, self._rate = float(row[0]), float(row[1]), float(row[2])
        self._offset = now - local
        return send, now

    def _execute(self, sql: str, extra: dict[str, Any]) -> tuple[Any, ...]:
        params = {**self._params, "now": self._clock.wall() if self._fake_time else None, **extra}

        def work(conn: psycopg.Connection[Any]) -> Any:
            row = conn.execute(sql, params).fetchone()
            if row is None:  # the row went away (a truncated table): make it again
                conn.execute(_ENSURE, (self._account, self._api))
                row = conn.execute(sql, params).fetchone()
            return row

        row = self._retry(work)
        if row is None:
            raise RuntimeError(f"no quota row for ({self._account!r}, {self._api!r})")
        return tuple(row)

    def try_acquire(self) -> bool:
        return False  # every grant is a database round trip: see `acquire`

    async def acquire(self) -> None:
        wait = await anyio.to_thread.run_sync(self.reserve)
        if wait > 0:
            await self._clock.sleep(wait)
        self.granted += 1

    def on_throttle(self, *, sent_at: float, retry_after: float | None) -> None:
        """Pause every replica (the account's quota is spent for now) and, once per
        overload, cut the shared rate. `sent_at` is on this pacer's clock. Returns at
        once: the row is updated by this pacer's worker thread."""
        self.throttles += 1
        pause = min(retry_after, RETRY_AFTER_CAP) if retry_after else DEFAULT_PAUSE_SECONDS
        sent = None if self._offset is None else sent_at + self._offset
        with self._pending_lock:
            if self._worker is None:
                self._worker = concurrent.futures.ThreadPoolExecutor(1, "rerun-shared-pacer")
            self._pending.append(self._worker.submit(self._throttled, max(pause, 0.0), sent))

    def _throttled(self, pause: float, sent: float | None) -> None:
        try:
            cut, rate = self._execute(_THROTTLE, {"pause": pause, "sent": sent})
        except Exception as exc:  # a lost pause must not stop the run (ours holds locally)
            _log.warning("rerun.quota.shared_pause_failed", api=self._api, error=str(exc))
            return
        self._rate = float(rate)
        if cut:
            self.cuts += 1

    def wait_throttles(self) -> None:
        """Return once every throttle this pacer was told of is in the database (every
        reservation waits for them: none is slotted before a pause it should honour)."""
        with self._pending_lock:
            pending = list(self._pending)
        for future in pending:
            future.result()
        with self._pending_lock:
            self._pending = [f for f in self._pending if not f.done()]

    def on_success(self) -> None:
        pass  # the recovery is the curve's, evaluated at each reservation

    def close(self) -> None:
        """Write the throttles told so far and stop the worker thread (blocks: call it off
        the loop, e.g. `close_off_loop`). The pacer stays usable: a later throttle starts
        a new worker (the registry may hand it to another run of this process)."""
        with self._pending_lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.shutdown(wait=True)
        with contextlib.suppress(Exception):  # a lost throttle was logged by `_throttled`
            self.wait_throttles()

    def __repr__(self) -> str:
        return (
            f"SharedPacer({self._api}, rate={self._rate:.4g}/s, "
            f"ceiling={self._ceiling:.4g}/s, burst={self._burst:g}, cuts={self.cuts})"
        )


def shared_pacer_for(
    journal: object, account: str, api: str, rate: float | Rate, *, adaptive: bool = True
) -> SharedPacer | None:
    """The shared pacer of a journal that has a database (PostgreSQL), else None."""
    connect = getattr(journal, "connection", None)
    if connect is None or not callable(connect):
        return None
    return SharedPacer(
        connect, account, api, rate, adaptive=adaptive, retry=getattr(journal, "retry", None)
    )


async def close_off_loop(*closables: object) -> None:
    """Call ``close()`` on each of `closables` that has one (a `SharedPacer`, a
    `SharedGroupGate`: each stops a worker thread), in a worker thread; None is skipped.
    The run session does this as it ends, so that no thread of its outlives the run."""
    unique = {id(c): c for c in closables if c is not None}.values()
    todo = [close for c in unique if callable(close := getattr(c, "close", None))]
    if todo:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(lambda: [close() for close in todo])


def replica_line(journal: object) -> str | None:
    """The summary's line about this replica of a shared journal (None for a file):
    what it sent and settled, and what it took over from replicas whose lease expired."""
    leases = getattr(journal, "leases", None)
    owner = getattr(journal, "owner", None)
    if leases is None or owner is None:
        return None
    line = f"replica {owner}:"
    work = getattr(journal, "work", None)
    if work is not None:
        line += (
            f" sent {work.calls} RerunJob calls, settled {work.chunks} chunks "
            f"({work.days} days) as succeeded;"
        )
    line += f" took over {leases.taken_over} jobs whose holder's lease expired"
    refused = getattr(journal, "outcomes_refused", 0)
    if refused:
        line += f"; {refused} outcomes refused (lease lost; the new holder reconciles them)"
    return line
