"""Connecting to the PostgreSQL journal: the pool (PgBouncer-safe), who writes, and the
retry loop that waits out a database restart or failover."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import psycopg
import structlog
from psycopg_pool import ConnectionPool, PoolTimeout

from ._errors import JournalError
from ._url import redact

T = TypeVar("T")
_log = structlog.get_logger("rerun_orchestrator.journal")


# How long the server lets a transaction sit idle before it ends the session (and frees the
# locks): a replica stopped inside one (SIGSTOP, a VM pause, a long GC) must not hold up the
# others. Set per transaction (SET LOCAL), so that PgBouncer's transaction mode keeps it.
#
# The server arms that timer only when it has answered a Sync (ReadyForQuery). In pipeline
# mode it has not, between statements whose results the client reads as it goes: a replica
# stopped there holds its locks for ever (measured on PostgreSQL 15: 'active', never ended).
# So no transaction of the journal's runs in pipeline mode, nor calls `executemany` (which
# pipelines internally, and leaves the timer unarmed after it too): `execute_rows` instead.
SETUP_IDLE_MS = 10_000
_IDLE = "SELECT set_config('idle_in_transaction_session_timeout', %s, true)"


@contextlib.contextmanager
def bounded_transaction(conn: psycopg.Connection[Any], idle_ms: int) -> Iterator[None]:
    """`conn.transaction()` that the server ends if this process stalls inside it for
    `idle_ms` (seen: a paused replica held rows and a job's lock, and the survivor hung)."""
    with conn.transaction():
        conn.execute(_IDLE, (str(idle_ms),))
        yield


def execute_rows(cursor: psycopg.Cursor[Any], statement: bytes, rows: list[Any]) -> None:
    """`statement` once per row, each answered before the next is sent, so that the server's
    idle timer is armed wherever this process may stop (see above). A round trip a row: for
    the few rows of a poll or a pre-flight, not for bulk loads."""
    for row in rows:
        cursor.execute(statement, row)


def replica_name() -> str:
    """Who writes: host, pid and a random tag (pids repeat across machines and restarts)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


# The database is away, or ended this session (its transaction was left idle too long: this
# process was stopped inside it); the write is tried again on a new connection, fenced.
_AWAY = (psycopg.OperationalError, psycopg.errors.IdleInTransactionSessionTimeout, PoolTimeout)


def retrying(
    pool: ConnectionPool[psycopg.Connection[Any]],
    where: str,
    outage: float,
    work: Callable[[psycopg.Connection[Any]], T],
) -> T:
    """Run `work` on a pooled connection; while the database is away (a connection
    error), wait and try again, for up to `outage` seconds.

    Raises:
        JournalError: the database stayed away for `outage` seconds.
    """
    deadline = time.monotonic() + outage
    delay = 0.05
    while True:
        try:
            with pool.connection() as conn:
                return work(conn)
        except _AWAY as exc:
            if time.monotonic() + delay > deadline:
                raise JournalError(
                    f"journal {where} has been unreachable for {outage:g} s ({exc}); "
                    "the run stops, a later run resumes"
                ) from exc
            _log.warning("rerun.journal.unreachable", journal=where, error=str(exc))
            time.sleep(delay)  # the journal's calls are synchronous by contract
            delay = min(delay * 2, 1.0)


def open_pool(url: str, max_size: int) -> ConnectionPool[psycopg.Connection[Any]]:
    # One plain connection first: a wrong URL or a refused connection is told at once,
    # with the server's reason, instead of after the pool's wait.
    try:
        psycopg.connect(url, connect_timeout=10, prepare_threshold=None).close()
    except psycopg.Error as exc:
        raise JournalError(f"journal {redact(url)} cannot be reached: {exc}") from exc
    pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        kwargs={"autocommit": True, "prepare_threshold": None},  # PgBouncer-safe
        open=False,
        name="rerun-journal",
        timeout=10.0,
    )
    try:
        pool.open(wait=True, timeout=10.0)
    except PoolTimeout as exc:
        pool.close()
        raise JournalError(f"journal {redact(url)} cannot be reached: {exc}") from exc
    return pool
