"""The group-commit writer's connection is used by one thread at a time, checkpoints too."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from rerun_orchestrator._clock import SystemClock
from rerun_orchestrator.journal._writer import GroupCommitWriter


def test_a_checkpoint_waits_for_the_transaction_under_way(tmp_path: Path) -> None:
    """A checkpoint from the loop's thread while a round commits on a worker thread once
    failed that COMMIT ("SQL statements in progress") and stopped the run."""
    conn = sqlite3.connect(tmp_path / "j.sqlite", isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x INTEGER)")
    writer = GroupCommitWriter(conn, clock=SystemClock(), batch_size=1, batch_interval=0.0)
    inside, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def work(c: sqlite3.Connection) -> None:
        c.execute("INSERT INTO t VALUES (1)")
        inside.set()
        assert release.wait(30)

    def commit() -> None:
        try:
            writer.transact(work)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    committing = threading.Thread(target=commit)
    committing.start()
    assert inside.wait(30)
    checkpointing = threading.Thread(target=writer.checkpoint)
    checkpointing.start()
    checkpointing.join(0.3)
    assert checkpointing.is_alive(), "the checkpoint ran inside another thread's transaction"
    release.set()
    committing.join(30)
    checkpointing.join(30)
    assert not failures
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone() == (1,)
    conn.close()
