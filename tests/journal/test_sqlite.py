"""What only the SQLite journal promises: durability, batching, the run lock, meta, read-only."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import date, timedelta
from pathlib import Path

import anyio
import pytest
from structlog.testing import capture_logs

from rerun_orchestrator.journal import (
    ChunkStatus,
    DayCoveredError,
    JournalError,
    JournalLockedError,
    SqliteJournal,
)
from rerun_orchestrator.journal._transitions import begin_attempt

D0 = date(2024, 3, 30)


def _open(path: Path, **kwargs):
    kwargs.setdefault("plan_name", "p")
    kwargs.setdefault("plan_digest", "d1")
    return SqliteJournal.open(path, **kwargs)


def _committed(path: Path) -> dict[str, str]:
    """Status per key as another connection sees it: only what was committed."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT key, status FROM chunks").fetchall())
    finally:
        conn.close()


def _run(
    script: str, path: Path, *, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), str(path)],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


_SCRIPT_HEAD = """
    import asyncio, os, sys
    from datetime import date
    from rerun_orchestrator.journal import SqliteJournal, ChunkStatus
    from rerun_orchestrator.plan._model import Chunk
    def c(job):
        d = date(2024, 1, 1)
        return Chunk(f"k{job}", "r", "n", None, "g", job, d, d, 1, 1, "10:00:00", 1)
    j = SqliteJournal.open(sys.argv[1], plan_name="p", plan_digest="d",
                           batch_size=1000, batch_interval=1e9)
    j.sync([c(1), c(2), c(3)])
    def mark(key, started_at):
        return asyncio.run(j.mark_in_flight(key, started_at))
"""


@pytest.mark.asyncio
async def test_every_field_survives_a_reopen(tmp_path, chunk) -> None:
    path = tmp_path / "j.sqlite"
    chunks = [chunk(5, D0, 3, data_time="01:02:03"), chunk(6, D0)]
    with _open(path) as j:
        j.sync(chunks)
        await j.mark_in_flight(chunks[0].key, 1234.25)
        j.record_outcome(chunks[0].key, ChunkStatus.FAILED, request_id="R", code=-7, message="m")
        await j.mark_in_flight(chunks[1].key, 99.0)
        j.record_outcome(chunks[1].key, ChunkStatus.UNKNOWN, code="InternalError", reason="500")
        before = list(j.records())
    with SqliteJournal.open_readonly(path) as j:
        after = list(j.records())
    assert after == before
    assert after[0].chunk == chunks[0]
    assert (after[0].code, after[1].code) == (-7, "InternalError")  # types kept
    assert type(after[0].code) is int
    assert after[0].attempt_started_at == 1234.25


@pytest.mark.asyncio
async def test_in_flight_is_committed_before_mark_returns_and_outcomes_are_batched(
    tmp_path, chunk
) -> None:
    path = tmp_path / "j.sqlite"
    chunks = [chunk(1, D0), chunk(2, D0), chunk(3, D0)]
    with _open(path, batch_size=2, batch_interval=1e9) as j:
        j.sync(chunks)
        await j.mark_in_flight(chunks[0].key, 1.0)
        assert _committed(path)[chunks[0].key] == "in_flight"
        await j.mark_in_flight(chunks[1].key, 1.0)
        j.record_outcome(chunks[0].key, ChunkStatus.SUCCEEDED)
        assert _committed(path)[chunks[0].key] == "in_flight"  # batched
        j.record_outcome(chunks[1].key, ChunkStatus.SUCCEEDED)  # second outcome: batch full
        assert _committed(path)[chunks[1].key] == "succeeded"
        j.record_outcome(chunks[2].key, ChunkStatus.FAILED)
        assert _committed(path)[chunks[2].key] == "pending"
        j.flush()
        assert _committed(path)[chunks[2].key] == "failed"


@pytest.mark.asyncio
async def test_outcomes_commit_after_the_batch_interval(tmp_path, chunk, clock) -> None:
    path = tmp_path / "j.sqlite"
    chunks = [chunk(1, D0), chunk(2, D0)]
    with _open(path, clock=clock, batch_size=100, batch_interval=0.5) as j:
        j.sync(chunks)
        await j.mark_in_flight(chunks[0].key, 1.0)
        await j.mark_in_flight(chunks[1].key, 1.0)
        j.record_outcome(chunks[0].key, ChunkStatus.SUCCEEDED)
        assert _committed(path)[chunks[0].key] == "in_flight"
        clock.advance(0.5)
        j.record_outcome(chunks[1].key, ChunkStatus.SUCCEEDED)
        assert set(_committed(path).values()) == {"succeeded"}


@pytest.mark.asyncio
async def test_the_next_mark_commits_pending_outcomes(tmp_path, chunk) -> None:
    path = tmp_path / "j.sqlite"
    chunks = [chunk(1, D0), chunk(2, D0)]
    with _open(path, batch_size=100, batch_interval=1e9) as j:
        j.sync(chunks)
        await j.mark_in_flight(chunks[0].key, 1.0)
        j.record_outcome(chunks[0].key, ChunkStatus.SUCCEEDED)
        await j.mark_in_flight(chunks[1].key, 1.0)
        assert _committed(path) == {chunks[0].key: "succeeded", chunks[1].key: "in_flight"}


@pytest.mark.slow
def test_a_process_that_dies_keeps_marks_and_loses_only_unflushed_outcomes(tmp_path) -> None:
    path = tmp_path / "j.sqlite"
    script = (
        _SCRIPT_HEAD
        + """
    mark("k1", 1.0)
    j.record_outcome("k1", ChunkStatus.SUCCEEDED)   # batched
    mark("k2", 2.0)                                  # commits k1's outcome with it
    j.record_outcome("k2", ChunkStatus.SUCCEEDED)   # batched, lost below
    os._exit(3)                                      # no close, no flush, no atexit
    """
    )
    result = _run(script, path)
    assert result.returncode == 3, result.stderr
    with SqliteJournal.open_readonly(path) as j:
        states = {r.key: (r.status, r.attempts) for r in j.records()}
    assert states == {
        "k1": (ChunkStatus.SUCCEEDED, 1),
        "k2": (ChunkStatus.IN_FLIGHT, 1),  # outcome lost: reconciled on resume, not resent
        "k3": (ChunkStatus.PENDING, 0),
    }


@pytest.mark.slow
@pytest.mark.parametrize(("nth", "expected"), [(1, None), (2, "pending"), (3, "in_flight")])
def test_kill_inside_a_journal_write_loses_that_transaction_only(tmp_path, nth, expected) -> None:
    path = tmp_path / "j.sqlite"
    # hit 1: sync's commit; hit 2: k1's in-flight mark; hit 3: k2's mark (with k1's outcome)
    script = (
        _SCRIPT_HEAD
        + """
    mark("k1", 1.0)
    j.record_outcome("k1", ChunkStatus.SUCCEEDED)
    mark("k2", 2.0)
    j.close()
    """
    )
    result = _run(script, path, env={"RERUN_ORCHESTRATOR_FAILPOINTS": f"journal_write={nth}"})
    assert result.returncode == -signal.SIGKILL, result.stderr
    with SqliteJournal.open_readonly(path) as j:
        if expected is None:  # died inside sync: none of the plan was recorded
            assert list(j.records()) == []
        else:
            assert j.get("k1").status == expected
            assert j.get("k2").status is ChunkStatus.PENDING
    # and the lock died with the process
    _open(path, plan_name="p", plan_digest="d").close()


def test_a_second_run_is_refused_while_the_first_holds_the_lock(tmp_path) -> None:
    path = tmp_path / "j.sqlite"
    expected = rf"in use by pid {os.getpid()} since 20"
    with _open(path), pytest.raises(JournalLockedError, match=expected):
        _open(path)
    _open(path).close()  # released on close


@pytest.mark.slow
def test_a_lock_held_by_another_process_is_released_by_its_death(tmp_path) -> None:
    path = tmp_path / "j.sqlite"
    script = (
        _SCRIPT_HEAD
        + """
    print("ready", flush=True)
    sys.stdin.readline()
    """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        with pytest.raises(JournalLockedError) as info:
            _open(path, plan_digest="d")
        assert info.value.pid == proc.pid
        proc.kill()  # SIGKILL: no cleanup code runs
        proc.wait(timeout=10)
        with _open(path, plan_digest="d") as j:
            assert j.counts()[ChunkStatus.PENDING] == 3
    finally:
        proc.kill()
        proc.wait(timeout=10)
        proc.stdin.close()
        proc.stdout.close()


def test_several_plans_share_a_journal_and_each_is_remembered(tmp_path) -> None:
    # Version 2: a journal is a ledger of days, not one plan's (it used to refuse "users").
    path = tmp_path / "j.sqlite"
    _open(path, plan_name="orders", plan_digest="o1").close()
    with _open(path, plan_name="users", plan_digest="u1") as j:
        assert j.meta.plan_name == "users"
        assert [p.name for p in j.plans()] == ["users", "orders"]
    with SqliteJournal.open_readonly(path) as j:
        assert {p.name: p.digest for p in j.plans()} == {"orders": "o1", "users": "u1"}


def test_an_edited_plan_is_remembered_and_logged(tmp_path, clock) -> None:
    path = tmp_path / "j.sqlite"
    with _open(path, plan_digest="aaa", clock=clock) as j:
        created = j.meta.created_at
        assert (j.meta.plan_digest, j.meta.previous_digest) == ("aaa", None)
    with capture_logs() as logs, _open(path, plan_digest="bbb") as j:
        assert (j.meta.plan_digest, j.meta.previous_digest) == ("bbb", "aaa")
        assert j.meta.created_at == created
    assert logs == [
        {
            "event": "rerun.journal.plan_changed",
            "log_level": "info",
            "journal": str(path),
            "plan": "p",
            "previous_digest": "aaa",
            "digest": "bbb",
        }
    ]
    with SqliteJournal.open_readonly(path) as j:
        assert j.meta.plan_digest == "bbb"


def test_parent_directories_are_created(tmp_path) -> None:
    path = tmp_path / "a" / "b" / "j.sqlite"
    _open(path).close()
    assert path.is_file()


@pytest.mark.asyncio
async def test_read_only_reads_while_a_run_writes(tmp_path, chunk) -> None:
    path = tmp_path / "j.sqlite"
    with _open(path) as writer:
        writer.sync([chunk(1, D0)])
        with SqliteJournal.open_readonly(path) as reader:
            assert reader.counts()[ChunkStatus.PENDING] == 1
            with pytest.raises(JournalError, match="read-only"):
                await reader.mark_in_flight(chunk(1, D0).key, 1.0)
            await writer.mark_in_flight(chunk(1, D0).key, 1.0)
            assert reader.get(chunk(1, D0).key).status is ChunkStatus.IN_FLIGHT


def test_read_only_refuses_what_is_not_a_journal(tmp_path) -> None:
    with pytest.raises(JournalError, match="no journal at"):
        SqliteJournal.open_readonly(tmp_path / "missing.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"certainly not sqlite" * 100)
    with pytest.raises(JournalError, match="not a journal \\(not an SQLite file\\)"):
        SqliteJournal.open_readonly(junk)
    with pytest.raises(JournalError, match="not a journal \\(not an SQLite file\\)"):
        _open(junk)
    _open(junk.with_name("other.sqlite")).close()  # and no lock leaked from the failure
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    empty.write_bytes(b"")
    with pytest.raises(JournalError, match="not a journal"):
        SqliteJournal.open_readonly(empty)


def test_a_newer_schema_is_refused(tmp_path) -> None:
    path = tmp_path / "j.sqlite"
    _open(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value = 99 WHERE name = 'schema_version'")
    conn.close()
    with pytest.raises(JournalError, match="schema 99"):
        _open(path)


def test_wal_mode_and_full_sync_by_default(tmp_path) -> None:
    path = tmp_path / "j.sqlite"
    with _open(path) as j:
        conn = j._conn  # the pragmas are the durability promise; look at them directly
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    with _open(path, synchronous="NORMAL") as j:
        assert j._conn.execute("PRAGMA synchronous").fetchone() == (1,)


def test_repr_names_the_plan_and_state(tmp_path) -> None:
    j = _open(tmp_path / "j.sqlite")
    assert "plan='p'" in repr(j)
    assert "open" in repr(j)
    j.close()
    j.close()  # idempotent
    assert "closed" in repr(j)
    assert json.dumps(str(j.path))


@pytest.mark.asyncio
async def test_settling_by_hand_opens_an_existing_journal_without_its_plan(tmp_path, chunk) -> None:
    path = tmp_path / "j.sqlite"
    c = chunk(1, D0)
    with _open(path, plan_name="orders", plan_digest="abc") as j:
        j.sync([c])
        await j.mark_in_flight(c.key, 1.0)
        j.record_outcome(c.key, ChunkStatus.UNKNOWN, reason="found for only 1 of 2 day(s)")
    with SqliteJournal.open_existing(path) as j:
        assert (j.meta.plan_name, j.meta.plan_digest, j.meta.previous_digest) == (
            "orders",
            "abc",
            None,
        )
        with pytest.raises(JournalLockedError):
            SqliteJournal.open_existing(path)
        j.record_outcome(c.key, ChunkStatus.SUCCEEDED, reason="checked in the console")
    with SqliteJournal.open_readonly(path) as j:
        assert j.get(c.key).status is ChunkStatus.SUCCEEDED
    with pytest.raises(JournalError, match="no journal"):
        SqliteJournal.open_existing(tmp_path / "nope.sqlite")


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
@pytest.mark.asyncio
async def test_concurrent_marks_share_commits_and_each_returns_once_durable(
    tmp_path, chunk, monkeypatch, synchronous
) -> None:
    from rerun_orchestrator.journal import _writer  # noqa: PLC0415

    commits = []
    monkeypatch.setattr(_writer, "failpoint", commits.append)  # passed once per commit
    path = tmp_path / "j.sqlite"
    chunks = [chunk(job, D0) for job in range(1, 9)]
    durable_on_return = {}

    async def mark(key: str) -> None:
        await j.mark_in_flight(key, 1.0)
        durable_on_return[key] = _committed(path)[key]

    with _open(path, synchronous=synchronous) as j:
        j.sync(chunks)
        commits.clear()
        async with anyio.create_task_group() as tg:
            for c in chunks:
                tg.start_soon(mark, c.key)
    assert durable_on_return == {c.key: "in_flight" for c in chunks}
    if synchronous == "FULL":
        assert 1 <= len(commits) < len(chunks)  # group commit: fewer fsyncs than marks
    else:
        assert len(commits) == len(chunks)  # no fsync to share: each commits at once


@pytest.mark.asyncio
async def test_reads_see_staged_outcomes_before_their_commit(tmp_path, chunk) -> None:
    path = tmp_path / "j.sqlite"
    chunks = [chunk(1, D0), chunk(2, D0)]
    with _open(path, batch_size=100, batch_interval=1e9) as j:
        j.sync(chunks)
        await j.mark_in_flight(chunks[0].key, 1.0)
        j.record_outcome(chunks[0].key, ChunkStatus.FAILED, code=-1)
        assert _committed(path)[chunks[0].key] == "in_flight"  # staged only
        assert j.get(chunks[0].key).status is ChunkStatus.FAILED
        got = [r.status if r else None for r in j.records_for([chunks[0].key, "nope"])]
        assert got == [ChunkStatus.FAILED, None]
        assert j.counts()[ChunkStatus.FAILED] == 1
        assert [r.key for r in j.records([ChunkStatus.FAILED])] == [chunks[0].key]


@pytest.mark.asyncio
async def test_a_failed_commit_stops_every_later_write_and_reads_tell_the_truth(
    tmp_path, chunk, monkeypatch
) -> None:
    path = tmp_path / "j.sqlite"
    chunks = [chunk(1, D0), chunk(2, D0)]
    with _open(path) as j:
        j.sync(chunks)
        writer = j._writer

        def disk_full() -> None:
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(writer, "_commit_open", disk_full)
        with pytest.raises(sqlite3.OperationalError, match="disk is full"):
            await j.mark_in_flight(chunks[0].key, 1.0)
        monkeypatch.undo()
        assert j.get(chunks[0].key).status is ChunkStatus.PENDING  # the mark was lost
        with pytest.raises(JournalError, match="commit failed"):
            await j.mark_in_flight(chunks[1].key, 1.0)
        with pytest.raises(JournalError, match="commit failed"):
            j.record_outcome(chunks[0].key, ChunkStatus.SUCCEEDED)
    assert set(_committed(path).values()) == {"pending"}


@pytest.mark.asyncio
async def test_a_mark_whose_waiter_is_cancelled_is_still_recorded(tmp_path, chunk) -> None:
    path = tmp_path / "j.sqlite"
    c = chunk(1, D0)
    with _open(path) as j:
        j.sync([c])
        with anyio.CancelScope() as scope:
            scope.cancel()  # a hard stop as the mark begins: nothing is sent
            await j.mark_in_flight(c.key, 1.0)
        assert j.get(c.key).status is ChunkStatus.IN_FLIGHT
    assert _committed(path) == {c.key: "in_flight"}  # reconciled by the next run


@pytest.mark.asyncio
async def test_the_no_day_twice_check_sees_a_record_committed_under_its_read(
    tmp_path, chunk, monkeypatch
) -> None:
    """A round commits on the writer's thread while the loop reads a job's records: the
    read's snapshot is older than that commit, and by the time the staged records are
    overlaid the round has taken its own out of them. The record in flight was in
    neither, and an overlapping chunk could be marked (and its days sent twice)."""
    j = _open(tmp_path / "j.sqlite", synchronous="FULL")
    first = chunk(1, D0, days=3)
    j.propose(first, plan="p", timezone=None)
    writer = j._writer
    assert writer is not None
    # Staged as `mark_in_flight` stages it; its round has not committed yet.
    writer.stage(begin_attempt(j.get(first.key), 1.0, 1.0), mark=True)
    overlapping = chunk(1, D0 + timedelta(days=2), days=3)
    j.propose(overlapping, plan="p", timezone=None)
    read = j._read
    commits = []

    def read_then_commit(sql, params):
        rows = read(sql, params)
        if not commits:  # the round ends right after the snapshot, once
            commits.append(writer.durable)
            writer.commit()
        return rows

    monkeypatch.setattr(j, "_read", read_then_commit)
    with pytest.raises(DayCoveredError):
        await j.mark_in_flight(overlapping.key, 2.0)
    assert commits
    j.close()
