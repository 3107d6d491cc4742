"""Opening a SQLite journal: for a run (lock, file checks, schema, plan, writer) or to read.

Kept apart from `SqliteJournal`, which is about what a journal does once it is open.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .._clock import Clock
from ._errors import JournalError
from ._file import FileIdentity, create
from ._lock import RunLock
from ._model import JournalMeta, PlanEntry
from ._schema import COLUMNS, connect, read_meta
from ._setup import adopt_plan, check_existing, prepare
from ._writer import GroupCommitWriter

Synchronous = Literal["FULL", "NORMAL"]


@dataclass(frozen=True, slots=True)
class Opened:
    """Everything a writable journal holds."""

    path: Path
    conn: sqlite3.Connection
    reader: sqlite3.Connection
    meta: JournalMeta
    lock: RunLock
    identity: FileIdentity
    writer: GroupCommitWriter


def open_for_run(
    journal_path: Path,
    entry: PlanEntry,
    *,
    clock: Clock,
    synchronous: Synchronous,
    batch_size: int,
    batch_interval: float,
) -> Opened:
    """Take the run lock, then open (or create) the journal and record the plan in it.

    Raises:
        JournalLockedError: another process holds the lock.
        JournalError: not a journal, a newer schema, or the plan's zone changed.
    """
    journal_path.parent.mkdir(parents=True, exist_ok=True)
    lock = RunLock.acquire(journal_path, wall=clock.wall())
    opened: list[sqlite3.Connection] = []
    try:
        if not check_existing(journal_path):
            create(journal_path, clock.wall())
        identity = FileIdentity.of(journal_path)
        conn = connect(str(journal_path), readonly=False)
        opened.append(conn)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        meta = prepare(conn, journal_path, existing=True, now=clock.wall())
        meta = adopt_plan(conn, journal_path, meta, entry, clock.wall())
        reader = connect(read_only_uri(journal_path), readonly=True)
        opened.append(reader)
    except BaseException as exc:
        for each in opened:
            each.close()
        lock.release()
        if isinstance(exc, sqlite3.DatabaseError):
            raise JournalError(unusable(journal_path, exc)) from exc
        raise

    def verify() -> None:
        identity.verify()
        lock.verify()

    writer = GroupCommitWriter(
        conn,
        clock=clock,
        batch_size=batch_size,
        batch_interval=batch_interval,
        offload=synchronous == "FULL",  # only an fsync is worth a thread (see _writer)
        before_commit=verify,
    )
    return Opened(journal_path, conn, reader, meta, lock, identity, writer)


def open_for_reading(journal_path: Path) -> tuple[sqlite3.Connection, JournalMeta, str]:
    """A read-only connection, the journal's meta, and the columns to select (a schema 1
    journal, not upgraded yet, lacks the ledger's).

    Raises:
        JournalError: there is no journal at `journal_path`, or it is not one.
    """
    if not check_existing(journal_path):
        raise JournalError(f"no journal at {journal_path}")
    try:
        conn = connect(read_only_uri(journal_path), readonly=True)
        try:
            meta = read_meta(conn)
        except BaseException:
            conn.close()
            raise
    except sqlite3.DatabaseError as exc:
        raise JournalError(unusable(journal_path, exc)) from exc
    if meta is None:
        conn.close()
        raise JournalError(f"{journal_path} is not a journal (no plan recorded)")
    columns = COLUMNS
    if meta.schema_version < 2:  # schema 1: upgraded by the next run, read as it is
        columns = COLUMNS.replace(
            "plan, timezone, generation", "NULL AS plan, NULL AS timezone, 0 AS generation"
        )
    return conn, meta, columns


def unusable(journal_path: Path, exc: sqlite3.DatabaseError) -> str:
    """SQLite's own word on a damaged journal, and the way back (docs/journal.md)."""
    return (
        f"{journal_path} is not a usable journal: {exc}. Nothing was sent. To recover: "
        f"move it aside (keep it: `sqlite3 {journal_path} .recover` may save its rows), "
        "then run the same command again: a run on a new journal asks the server which "
        "days were already rerun (--lookback, default 7d: make it cover the time since "
        "the first run) and sends only the others"
    )


def read_only_uri(path: Path) -> str:
    return f"{path.resolve().as_uri()}?mode=ro"
