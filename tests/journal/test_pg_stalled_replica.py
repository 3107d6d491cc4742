"""A replica stopped inside a transaction (SIGSTOP, a VM pause) does not hold up the others:
the server ends its session after the journal's idle limit, and its locks go with it.

Seen in CI: a replica paused inside its watcher's day-instance upsert held those rows, and
the survivor's watcher, writing the same rows, waited for them forever."""

from __future__ import annotations

import contextlib
import threading
from datetime import date
from typing import Any

import anyio
import psycopg
import pytest

from rerun_orchestrator.journal import ChunkStatus
from rerun_orchestrator.journal._instances import DayInstance, InstanceState
from rerun_orchestrator.journal._pg_connect import bounded_transaction
from rerun_orchestrator.journal._postgres import PostgresJournal

D0 = date(2024, 1, 1)


def _open(url: str) -> PostgresJournal:
    # leases of 3 s: the server ends a transaction idle for a third of that (1 s)
    return PostgresJournal.open(
        url, plan_name="p", plan_digest="d", timezone="UTC", lease_seconds=3, outage_seconds=5
    )


def _stop_inside(
    monkeypatch, paused: PostgresJournal, cls: type, method: str, marker: bytes = b""
) -> tuple[threading.Event, threading.Event]:
    """Make `paused` stop (until released) right after its first `cls.method` call (whose
    query contains `marker`) returns: a SIGSTOP inside one of its journal transactions."""
    stopped, release = threading.Event(), threading.Event()
    original = getattr(cls, method)

    def stop_after(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        query = args[0] if args else b""
        text = query if isinstance(query, bytes) else str(query).encode()
        conn = self.connection if isinstance(self, psycopg.Cursor) else self
        ours = getattr(conn, "_pool", None) is paused._pool
        if ours and marker in text and conn.info.transaction_status and not stopped.is_set():
            stopped.set()
            release.wait(60)
        return result

    monkeypatch.setattr(cls, method, stop_after)
    return stopped, release


def test_a_replica_stopped_inside_its_day_instance_write_does_not_block_anothers(
    postgres_url, chunk, monkeypatch
) -> None:
    survivor, paused = _open(postgres_url), _open(postgres_url)
    c = chunk(1, D0)
    survivor.sync([c])
    first = DayInstance(c.key, D0, 1, 7, InstanceState.WAITING, None, None, None, 1.0)
    survivor.record_day_instances([first])
    stopped, release = _stop_inside(
        monkeypatch, paused, psycopg.Cursor, "execute", b"INSERT INTO rerun_day_instances"
    )
    stale = DayInstance(c.key, D0, 1, 7, InstanceState.RUNNING, None, None, None, 2.0)
    woken = threading.Thread(
        target=paused.record_day_instances, args=([stale],), name="paused", daemon=True
    )
    try:
        woken.start()
        assert stopped.wait(30)
        fresh = DayInstance(c.key, D0, 1, 7, InstanceState.SUCCESS, None, None, None, 3.0)
        writer = threading.Thread(
            target=survivor.record_day_instances, args=([fresh],), daemon=True
        )
        writer.start()
        writer.join(30)
        assert not writer.is_alive(), "the survivor's write waited for the paused replica"
        release.set()
        woken.join(30)  # its session was ended; it retries its older write, which is refused
        assert not woken.is_alive()
        assert survivor.day_instances([c.key])[(c.key, D0)].status is InstanceState.SUCCESS
    finally:
        release.set()
        survivor.close()
        paused.close()


def test_a_replica_stopped_holding_a_jobs_lock_does_not_block_anothers_mark(
    postgres_url, chunk, monkeypatch
) -> None:
    """Stopped inside `mark_in_flight` once it holds the job's advisory lock (at its first
    read of an answer): the server ends its session within the idle limit, and the other
    replica's mark goes on (pipelined, the server never armed that limit: it hung)."""
    survivor, paused = _open(postgres_url), _open(postgres_url)
    mine, theirs = chunk(1, D0), chunk(1, date(2024, 1, 2))
    survivor.sync([mine, theirs])
    stopped, release = _stop_inside(monkeypatch, paused, psycopg.Cursor, "fetchall")

    def mark() -> None:
        with contextlib.suppress(Exception):  # its session is gone when it wakes
            anyio.run(paused.mark_in_flight, theirs.key, 1.0)

    woken = threading.Thread(target=mark, name="paused", daemon=True)
    try:
        woken.start()
        assert stopped.wait(30)
        marked: list[ChunkStatus] = []
        writer = threading.Thread(
            target=lambda: marked.append(anyio.run(survivor.mark_in_flight, mine.key, 2.0).status),
            daemon=True,
        )
        writer.start()
        writer.join(30)
        assert not writer.is_alive(), "the survivor's mark waited for the paused replica"
        assert marked == [ChunkStatus.IN_FLIGHT]
    finally:
        release.set()
        woken.join(30)
        survivor.close()
        paused.close()


@pytest.mark.parametrize("idle_ms", [1000])
def test_the_idle_limit_is_local_to_the_transaction(postgres_url, idle_ms) -> None:
    """SET LOCAL: a PgBouncer connection in transaction mode keeps no setting of ours."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        before = conn.execute("SHOW idle_in_transaction_session_timeout").fetchone()
        with bounded_transaction(conn, idle_ms):
            inside = conn.execute("SHOW idle_in_transaction_session_timeout").fetchone()
        after = conn.execute("SHOW idle_in_transaction_session_timeout").fetchone()
    assert inside == ("1s",)
    assert before == after != inside
