"""Connecting to the PostgreSQL journal: the pool (PgBouncer-safe), who writes, and the
retry loop that waits out a database restart or failover."""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
import structlog
from psycopg_pool import ConnectionPool, PoolTimeout

from ._errors import JournalError
from ._url import redact

T = TypeVar("T")
_log = structlog.get_logger("rerun_orchestrator.journal")


def replica_name() -> str:
    """Who writes: host, pid and a random tag (pids repeat across machines and restarts)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


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
        except (psycopg.OperationalError, PoolTimeout) as exc:
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
