"""What only the SQLite journal promises: durability, batching, the run lock, meta, read-only."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from rerun_orchestrator.journal import (
    ChunkStatus,
    JournalError,
    JournalLockedError,
    JournalMismatchError,
    SqliteJournal,
)

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
    import os, sys
    from datetime import date
    from rerun_orchestrator.journal import SqliteJournal, ChunkStatus
    from rerun_orchestrator.plan._model import Chunk
    def c(job):
        d = date(2024, 1, 1)
        return Chunk(f"k{job}", "r", "n", None, "g", job, d, d, 1, 1, "10:00:00", 1)
    j = SqliteJournal.open(sys.argv[1], plan_name="p", plan_digest="d",
                           batch_size=1000, batch_interval=1e9)
    j.sync([c(1), c(2), c(3)])
"""


def test_every_field_survives_a_reopen(tmp_path, chunk) -> None:
    path = tmp_path / "j.sqlite"
    chunks = [chunk(5, D0, 3, data_time="01:02:03"), chunk(6, D0)]
    with _open(path) as j:
        j.sync(chunks)
        j.mark_in_flight(chunks[0].key, 1234.25)
        j.record_outcome(chunks[0].key, ChunkStatus.FAILED, request_id="R", code=-7, message="m")
        j.mark_in_flight(chunks[1].key, 99.0)
        j.record_outcome(chunks[1].key, ChunkStatus.UNKNOWN, code="InternalError", reason="500")
        before = list(j.records())
    with SqliteJournal.open_readonly(path) as j:
        after = list(j.records())
    assert after == before
    assert after[0].chunk == chunks[0]
    assert (after[0].code, after[1].code) == (-7, "InternalError")  # types kept
    assert type(after[0].code) is int
    assert after[0].attempt_started_at == 1234.25


def test_in_flight_is_committed_before_mark_returns_and_outcomes_are_batched(
    tmp_path, chunk
) -> None:
    path = tmp_path / "j.sqlite"
    chunks = [chunk(1, D0), chunk(2, D0), chunk(3, D0)]
    with _open(path, batch_size=2, batch_interval=1e9) as j:
        j.sync(chunks)
        j.mark_in_flight(chunks[0].key, 1.0)
        assert _committed(path)[chunks[0].key] == "in_flight"
        j.mark_in_flight(chunks[1].key, 1.0)
        j.record_outcome(chunks[0].key, ChunkStatus.SUCCEEDED)
        assert _committed(path)[chunks[0].key] == "in_flight"  # batched
        j.record_outcome(chunks[1].key, ChunkStatus.SUCCEEDED)  # second outcome: batch full
        assert _committed(path)[chunks[1].key] == "succeeded"
        j.record_outcome(chunks[2].key, ChunkStatus.FAILED)
        assert _committed(path)[chunks[2].key] == "pending"
        j.flush()
        assert _committed(path)[chunks[2].key] == "failed"


def test_outcomes_commit_after_the_batch_interval(tmp_path, chunk, clock) -> None:
    path = tmp_path / "j.sqlite"
    chunks = [chunk(1, D0), chunk(2, D0)]
    with _open(path, clock=clock, batch_size=100, batch_interval=0.5) as j:
        j.sync(chunks)
        j.mark_in_flight(chunks[0].key, 1.0)
        j.mark_in_flight(chunks[1].key, 1.0)
        j.record_outcome(chunks[0].key, ChunkStatus.SUCCEEDED)
        assert _committed(path)[chunks[0].key] == "in_flight"
        clock.advance(0.5)
        j.record_outcome(chunks[1].key, ChunkStatus.SUCCEEDED)
        assert set(_committed(path).values()) == {"succeeded"}


def test_the_next_mark_commits_pending_outcomes(tmp_path, chunk) -> None:
    path = tmp_path / "j.sqlite"
    chunks = [chunk(1, D0), chunk(2, D0)]
    with _open(path, batch_size=100, batch_interval=1e9) as j:
        j.sync(chunks)
        j.mark_in_flight(chunks[0].key, 1.0)
        j.record_outcome(chunks[0].key, ChunkStatus.SUCCEEDED)
        j.mark_in_flight(chunks[1].key, 1.0)
        assert _committed(path) == {chunks[0].key: "succeeded", chunks[1].key: "in_flight"}


def test_a_process_that_dies_keeps_marks_and_loses_only_unflushed_outcomes(tmp_path) -> None:
    path = tmp_path / "j.sqlite"
    script = (
        _SCRIPT_HEAD
        + """
    j.mark_in_flight("k1", 1.0)
    j.record_outcome("k1", ChunkStatus.SUCCEEDED)   # batched
    j.mark_in_flight("k2", 2.0)                      # commits k1's outcome with it
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


@pytest.mark.parametrize(("nth", "expected"), [(1, None), (2, "pending"), (3, "in_flight")])
def test_kill_inside_a_journal_write_loses_that_transaction_only(tmp_path, nth, expected) -> None:
    path = tmp_path / "j.sqlite"
    # hit 1: sync's commit; hit 2: k1's in-flight mark; hit 3: k2's mark (with k1's outcome)
    script = (
        _SCRIPT_HEAD
        + """
    j.mark_in_flight("k1", 1.0)
    j.record_outcome("k1", ChunkStatus.SUCCEEDED)
    j.mark_in_flight("k2", 2.0)
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


def test_another_plans_journal_is_refused(tmp_path) -> None:
    path = tmp_path / "j.sqlite"
    _open(path, plan_name="orders").close()
    with pytest.raises(JournalMismatchError, match="belongs to plan 'orders', not 'users'"):
        _open(path, plan_name="users")
    _open(path, plan_name="orders").close()  # the refused open released its lock


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


def test_read_only_reads_while_a_run_writes(tmp_path, chunk) -> None:
    path = tmp_path / "j.sqlite"
    with _open(path) as writer:
        writer.sync([chunk(1, D0)])
        with SqliteJournal.open_readonly(path) as reader:
            assert reader.counts()[ChunkStatus.PENDING] == 1
            with pytest.raises(JournalError, match="read-only"):
                reader.mark_in_flight(chunk(1, D0).key, 1.0)
            writer.mark_in_flight(chunk(1, D0).key, 1.0)
            assert reader.get(chunk(1, D0).key).status is ChunkStatus.IN_FLIGHT


def test_read_only_refuses_what_is_not_a_journal(tmp_path) -> None:
    with pytest.raises(JournalError, match="no journal at"):
        SqliteJournal.open_readonly(tmp_path / "missing.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"certainly not sqlite" * 100)
    with pytest.raises(JournalError, match="not a usable journal"):
        SqliteJournal.open_readonly(junk)
    with pytest.raises(JournalError, match="not a usable journal"):
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


def test_settling_by_hand_opens_an_existing_journal_without_its_plan(tmp_path, chunk) -> None:
    path = tmp_path / "j.sqlite"
    c = chunk(1, D0)
    with _open(path, plan_name="orders", plan_digest="abc") as j:
        j.sync([c])
        j.mark_in_flight(c.key, 1.0)
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
