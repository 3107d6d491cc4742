"""`SqliteJournal`: the durable journal, one SQLite file in WAL mode per backfill.

Why these choices:
- WAL, so that `status` reads while a `run` writes, and a commit is one append.
- ``synchronous=FULL`` by default: every commit is fsynced, so an in-flight mark survives
  even a power loss of the client machine (0.1-0.3 ms per call on a local SSD, nothing
  next to a quota of 100 calls/min). ``NORMAL`` is durable against a process crash
  (`kill -9`, OOM) but may lose the last commits on power loss; choose it only if you
  accept that a request sent just before the machine died may be sent again.
- `mark_in_flight` commits before it returns; outcomes are batched (every `batch_size`
  outcomes or `batch_interval` seconds, and with the next in-flight mark). An outcome lost
  in a crash leaves its chunk in flight, which the next run reconciles, never resends blindly.
- Every field of a chunk is stored, so status, reports and orphans need no plan.
- Plan changes are matched by key: `sync` inserts new keys and reports keys the plan no
  longer has (orphans), in one transaction, in bounded memory for millions of chunks.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Literal, Self

from .._clock import Clock, SystemClock
from .._failpoints import failpoint
from ..plan._model import Chunk
from ._errors import JournalError
from ._lock import RunLock
from ._model import ChunkRecord, ChunkStatus, JournalMeta
from ._schema import (
    COLUMNS,
    INSERT,
    PAGE,
    SYNC_BATCH,
    chunk_row,
    connect,
    filters,
    init_meta,
    read_meta,
    to_record,
)
from ._store import SyncSummary
from ._transitions import begin_attempt, settle

ORPHANS_SHOWN = 100  # keys returned by `sync`; the count is always exact
_RECENT = 4096  # records kept by the writer: more than any concurrency in flight


Synchronous = Literal["FULL", "NORMAL"]


class SqliteJournal:
    """The `Journal` on a local SQLite file. Build it with `open` or `open_readonly`.

    Not safe for two threads at once in the same call, but any one thread may use it
    (calls are serialised by an internal lock), so an executor may offload writes to a
    worker thread.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        meta: JournalMeta,
        *,
        clock: Clock,
        lock: RunLock | None,
        readonly: bool,
        batch_size: int,
        batch_interval: float,
    ) -> None:
        self._conn = conn
        self._path = path
        self._meta = meta
        self._clock = clock
        self._lock = lock
        self._readonly = readonly
        self._batch_size = batch_size
        self._batch_interval = batch_interval
        self._batched = 0
        self._batch_started = 0.0
        self._mutex = threading.RLock()
        self._closed = False
        # Records this writer wrote last. Coherent because the run lock makes this the
        # only writer; it spares the read before an outcome, which follows its mark.
        self._recent: OrderedDict[str, ChunkRecord] = OrderedDict()

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        plan_name: str,
        plan_digest: str,
        clock: Clock | None = None,
        synchronous: Synchronous = "FULL",
        batch_size: int = 64,
        batch_interval: float = 0.25,
    ) -> SqliteJournal:
        """Open (or create) the journal of `plan_name` for a run, taking its run lock.

        Raises:
            JournalLockedError: another process has it open for a run.
            JournalMismatchError: it was made for another plan.
            JournalError: it is not a journal, or one from a newer version.
        """
        if batch_size < 1 or batch_interval < 0:
            raise ValueError("batch_size must be >= 1 and batch_interval >= 0")
        clock = clock or SystemClock()
        journal_path = Path(path)
        journal_path.parent.mkdir(parents=True, exist_ok=True)
        lock = RunLock.acquire(journal_path, wall=clock.wall())
        try:
            conn = connect(str(journal_path), readonly=False)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(f"PRAGMA synchronous={synchronous}")
                meta = init_meta(conn, journal_path, plan_name, plan_digest, clock.wall())
            except BaseException:
                conn.close()
                raise
        except sqlite3.DatabaseError as exc:
            lock.release()
            raise JournalError(f"{journal_path} is not a usable journal: {exc}") from exc
        except BaseException:
            lock.release()
            raise
        return cls(
            conn,
            journal_path,
            meta,
            clock=clock,
            lock=lock,
            readonly=False,
            batch_size=batch_size,
            batch_interval=batch_interval,
        )

    @classmethod
    def open_existing(
        cls, path: str | os.PathLike[str], *, clock: Clock | None = None
    ) -> SqliteJournal:
        """Open an existing journal for writing, for whatever plan it records.

        For settling chunks by hand (see the docs: "Settling unknown chunks"), where no
        plan is at hand. Takes the run lock like `open`.

        Raises:
            JournalError: there is no journal at `path`, or it is not one.
            JournalLockedError: a run has it open.
        """
        with cls.open_readonly(path) as journal:
            meta = journal.meta
        return cls.open(path, plan_name=meta.plan_name, plan_digest=meta.plan_digest, clock=clock)

    @classmethod
    def open_readonly(cls, path: str | os.PathLike[str]) -> SqliteJournal:
        """Open a journal to read it (`status`, reports), even while a run writes it.

        Raises:
            JournalError: there is no journal at `path`, or it is not one.
        """
        journal_path = Path(path)
        if not journal_path.is_file():
            raise JournalError(f"no journal at {journal_path}")
        try:
            conn = connect(f"{journal_path.resolve().as_uri()}?mode=ro", readonly=True)
            try:
                meta = read_meta(conn)
            except BaseException:
                conn.close()
                raise
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{journal_path} is not a usable journal: {exc}") from exc
        if meta is None:
            conn.close()
            raise JournalError(f"{journal_path} is not a journal (no plan recorded)")
        return cls(
            conn,
            journal_path,
            meta,
            clock=SystemClock(),
            lock=None,
            readonly=True,
            batch_size=1,
            batch_interval=0.0,
        )

    @property
    def path(self) -> Path:
        return self._path

    @property
    def meta(self) -> JournalMeta:
        return self._meta

    # -- reads -----------------------------------------------------------------------

    def get(self, key: str) -> ChunkRecord | None:
        with self._mutex:
            if (cached := self._recent.get(key)) is not None:
                return cached
            row = self._conn.execute(
                f"SELECT {COLUMNS} FROM chunks WHERE key = ?",  # noqa: S608 (constants only)
                (key,),
            ).fetchone()
        return to_record(row) if row else None

    def records(
        self, statuses: Iterable[ChunkStatus] | None = None, *, plan_only: bool = False
    ) -> Iterator[ChunkRecord]:
        # Pages keyed by seq, each read whole before it is yielded, so the caller may
        # write to the journal while iterating without upsetting an open cursor.
        where, params = filters(statuses, plan_only=plan_only)
        if where is None:
            return
        sql = f"SELECT {COLUMNS} FROM chunks WHERE seq > ?{where} ORDER BY seq LIMIT {PAGE}"  # noqa: S608
        last = 0
        while True:
            with self._mutex:
                rows = self._conn.execute(sql, (last, *params)).fetchall()
            if not rows:
                return
            for row in rows:
                yield to_record(row)
            last = rows[-1][0]

    def records_for(self, keys: Iterable[str]) -> Iterator[ChunkRecord | None]:
        """Records of `keys`, in that order (None for a key the journal lacks)."""
        it = iter(keys)
        while batch := list(islice(it, 500)):
            marks = ",".join("?" * len(batch))
            with self._mutex:
                rows = self._conn.execute(
                    f"SELECT {COLUMNS} FROM chunks WHERE key IN ({marks})",  # noqa: S608
                    batch,
                ).fetchall()
            found = {row[1]: row for row in rows}
            for key in batch:
                row = found.get(key)
                yield to_record(row) if row else None

    def counts(self) -> dict[ChunkStatus, int]:
        with self._mutex:
            rows = self._conn.execute(
                "SELECT status, COUNT(*) FROM chunks GROUP BY status"
            ).fetchall()
        counts = dict.fromkeys(ChunkStatus, 0)
        counts.update({ChunkStatus(status): n for status, n in rows})
        return counts

    def orphans(self, limit: int | None = None) -> tuple[tuple[str, ...], int]:
        with self._mutex:
            (total,) = self._conn.execute("SELECT COUNT(*) FROM orphans").fetchone()
            rows = self._conn.execute(
                "SELECT o.key FROM orphans o JOIN chunks c ON c.key = o.key ORDER BY c.seq LIMIT ?",
                (-1 if limit is None else limit,),
            ).fetchall()
        return tuple(key for (key,) in rows), int(total)

    # -- writes ----------------------------------------------------------------------

    def sync(self, chunks: Iterable[Chunk]) -> SyncSummary:
        self._writable()
        now = self._clock.wall()
        with self._mutex:
            self._commit()
            conn = self._conn
            try:
                self._begin()
                conn.execute("DROP TABLE IF EXISTS temp.plan_keys")
                conn.execute("CREATE TEMP TABLE plan_keys (key TEXT PRIMARY KEY) WITHOUT ROWID")
                (before,) = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()
                it = iter(chunks)
                while batch := list(islice(it, SYNC_BATCH)):
                    conn.executemany(INSERT, [(*chunk_row(c), now, now) for c in batch])
                    conn.executemany(
                        "INSERT OR IGNORE INTO temp.plan_keys VALUES (?)", [(c.key,) for c in batch]
                    )
                (after,) = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()
                (planned,) = conn.execute("SELECT COUNT(*) FROM temp.plan_keys").fetchone()
                conn.execute("DELETE FROM orphans")
                conn.execute(
                    "INSERT INTO orphans SELECT key FROM chunks "
                    "WHERE key NOT IN (SELECT key FROM temp.plan_keys)"
                )
                self._commit()
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                self._batched = 0
                raise
            finally:
                conn.execute("DROP TABLE IF EXISTS temp.plan_keys")
        shown, orphaned = self.orphans(ORPHANS_SHOWN)
        added = after - before
        return SyncSummary(
            added=added, known=planned - added, orphaned=shown, orphaned_count=orphaned
        )

    def mark_in_flight(self, key: str, started_at: float) -> ChunkRecord:
        self._writable()
        with self._mutex:
            new = begin_attempt(self._require(key), started_at, self._clock.wall())
            self._begin()
            self._conn.execute(
                "UPDATE chunks SET status = ?, attempts = ?, attempt_started_at = ?, "
                "updated_at = ? WHERE key = ?",
                (new.status.value, new.attempts, new.attempt_started_at, new.updated_at, key),
            )
            self._remember(new)
            self._commit()  # durable before the caller writes the request
        return new

    def record_outcome(
        self,
        key: str,
        status: ChunkStatus,
        *,
        request_id: str | None = None,
        code: str | int | None = None,
        message: str | None = None,
        reason: str | None = None,
        instance_ids: Iterable[int] = (),
    ) -> ChunkRecord:
        self._writable()
        with self._mutex:
            new = settle(
                self._require(key),
                ChunkStatus(status),
                self._clock.wall(),
                request_id=request_id,
                code=code,
                message=message,
                reason=reason,
                instance_ids=instance_ids,
            )
            self._begin()
            self._conn.execute(
                "UPDATE chunks SET status = ?, request_id = ?, code = ?, message = ?, "
                "reason = ?, instance_ids = ?, updated_at = ? WHERE key = ?",
                (
                    new.status.value,
                    new.request_id,
                    new.code,
                    new.message,
                    new.reason,
                    json.dumps(new.instance_ids),
                    new.updated_at,
                    key,
                ),
            )
            self._remember(new)
            self._batched += 1
            due = self._clock.now() - self._batch_started >= self._batch_interval
            if self._batched >= self._batch_size or due:
                self._commit()
        return new

    def flush(self) -> None:
        if self._readonly or self._closed:
            return
        with self._mutex:
            self._commit()

    def close(self) -> None:
        if self._closed:
            return
        with self._mutex:
            try:
                if not self._readonly:
                    self._commit()
            finally:
                self._closed = True
                self._conn.close()
                if self._lock is not None:
                    self._lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "closed" if self._closed else ("read-only" if self._readonly else "open")
        return f"SqliteJournal({str(self._path)!r}, plan={self._meta.plan_name!r}, {mode})"

    # -- internals -------------------------------------------------------------------

    def _writable(self) -> None:
        if self._closed:
            raise JournalError(f"journal {self._path} is closed")
        if self._readonly:
            raise JournalError(f"journal {self._path} was opened read-only")

    def _require(self, key: str) -> ChunkRecord:
        record = self.get(key)
        if record is None:
            raise JournalError(f"chunk {key} is not in journal {self._path}; sync the plan first")
        return record

    def _remember(self, record: ChunkRecord) -> None:
        self._recent[record.key] = record
        self._recent.move_to_end(record.key)
        if len(self._recent) > _RECENT:
            self._recent.popitem(last=False)

    def _begin(self) -> None:
        if not self._conn.in_transaction:
            self._conn.execute("BEGIN IMMEDIATE")
            self._batch_started = self._clock.now()

    def _commit(self) -> None:
        if self._conn.in_transaction:
            failpoint("journal_write")  # crash tests kill here: inside, before the commit
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error:
                # Disk full or I/O error: what was not committed is lost; forget what we
                # remembered of it, so reads tell the truth, and let the caller stop.
                self._recent.clear()
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                self._batched = 0
                raise
        self._batched = 0
