"""`SqliteJournal`: the durable journal, one SQLite file in WAL mode per backfill.

Why these choices:
- WAL, so that `status` reads while a `run` writes, a commit is one append, and the
  journal's own reads never wait for its commits (they use a second connection).
- ``synchronous=FULL`` by default: every commit is fsynced, so an in-flight mark survives
  even a power loss of the client machine. ``NORMAL`` is durable against a process crash
  (`kill -9`, OOM) but may lose the last commits on power loss; choose it only if you
  accept that a request sent just before the machine died may be sent again.
- Group commit (`_writer`): `mark_in_flight` returns once its mark is committed, but
  concurrent marks share one transaction and one fsync, made in a worker thread while
  the event loop goes on. Outcomes are batched: they ride along with the next mark's
  commit, or commit on their own every `batch_size` outcomes or `batch_interval` seconds.
  An outcome lost in a crash leaves its chunk in flight, which the next run reconciles,
  never resends blindly.
- Every field of a chunk is stored, so status and reports need no plan.
- Reads (`_sqlite_reads`) go through a second connection and see every write made.
- The ledger (see `_ledger`): records are spans of days of one job, indexed by job and
  first day; `job_records` reads a job's records in one range read, and `mark_in_flight`
  refuses a chunk any of whose days another record covers (`DayCoveredError`). Chunks
  that have never been tried are not written at all (`propose` holds them in memory), so
  a plan of a million days costs nothing to open, only what it sends.
- A journal is never silently new (`_file`), its file and run lock are checked before
  every commit, and the WAL is checkpointed regularly (the -wal file is part of the
  journal between checkpoints: never delete it).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Self

from .._clock import Clock, SystemClock
from ..plan._model import Chunk
from ._errors import DayCoveredError, JournalError
from ._file import FileIdentity
from ._instances import SqliteDayInstances
from ._job_facts import JobFactsQueries
from ._ledger import conflict
from ._lock import RunLock
from ._model import ChunkRecord, ChunkStatus, JobIdentity, JournalMeta, PlanEntry
from ._opening import Synchronous, open_for_reading, open_for_run
from ._schema import (
    COLUMNS,
    insert_chunks,
)
from ._sqlite_ledger import LedgerQueries
from ._sqlite_reads import RecordReads
from ._store import Screen, SyncSummary
from ._transitions import begin_attempt, settle
from ._writer import GroupCommitWriter

ORPHANS_SHOWN = 100  # keys returned by `sync`; the count is always exact

_SYNCHRONOUS = ("FULL", "NORMAL")


class SqliteJournal(RecordReads, SqliteDayInstances, LedgerQueries, JobFactsQueries):
    """The `Journal` on a local SQLite file. Build it with `open` or `open_readonly`.

    Use it from one thread (an event loop's) at a time; commits happen in worker threads
    behind it (see `_writer`).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        meta: JournalMeta,
        *,
        lock: RunLock | None,
        reader: sqlite3.Connection,
        writer: GroupCommitWriter | None,
        clock: Clock,
        columns: str = COLUMNS,
    ) -> None:
        self._conn = conn  # the writer's; the only connection of a read-only journal
        self._columns = columns  # schema 1, read-only, lacks the ledger's columns
        self._proposed: dict[str, ChunkRecord] = {}  # chunks to send, not written yet
        self._identity: FileIdentity | None = None  # the file it opened (writable only)
        self._reader = reader
        self._path = path
        self._meta = meta
        self._lock = lock
        self._writer = writer
        self._clock = clock
        self._read_lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        plan_name: str,
        plan_digest: str,
        clock: Clock | None = None,
        timezone: str | None = None,
        job_days: int = 0,
        chunks: int = 0,
        locations: Iterable[tuple[str, str, str | None, str]] = (),
        synchronous: Synchronous = "FULL",
        batch_size: int = 64,
        batch_interval: float = 0.25,
    ) -> SqliteJournal:
        """Open (or create) a journal for a run of `plan_name`, taking its run lock.

        Several plans may share a journal: the plan is recorded (with its `timezone` and
        size, for `status`), and every record names the plan that wrote it. A journal of
        schema 1 is upgraded in place. A file that is not a journal is refused.

        Args:
            timezone: the plan's zone; a plan that ran here in another zone is refused.
            job_days, chunks: the plan's size, for `status`.
            locations: the plan's (region, namespace, namespace_source, group) as spelled;
                a location respelled (case, spaces) after it covered days is refused.
            synchronous: "FULL" (default): a mark survives a power loss of this machine;
                "NORMAL": it survives a crash of this process (kill -9, OOM) but maybe not
                a power loss, for less I/O per commit.
            batch_size, batch_interval: outcomes commit with the next in-flight mark, or
                on their own once this many are waiting or the first has waited this long.

        Raises:
            JournalLockedError: another process has it open for a run.
            JournalError: it is not a journal, one from a newer version, or the plan's
                timezone changed.
        """
        if batch_size < 1 or batch_interval < 0:
            raise ValueError("batch_size must be >= 1 and batch_interval >= 0")
        if synchronous not in _SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {_SYNCHRONOUS}, not {synchronous!r}")
        clock = clock or SystemClock()
        entry = PlanEntry(
            plan_name, plan_digest, timezone, job_days, chunks, locations=tuple(locations)
        )
        opened = open_for_run(
            Path(path),
            entry,
            clock=clock,
            synchronous=synchronous,
            batch_size=batch_size,
            batch_interval=batch_interval,
        )
        journal = cls(
            opened.conn,
            opened.path,
            opened.meta,
            lock=opened.lock,
            reader=opened.reader,
            writer=opened.writer,
            clock=clock,
        )
        journal._identity = opened.identity
        return journal

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
            plans = {entry.name: entry for entry in journal.plans()}
        entry = plans.get(meta.plan_name)
        return cls.open(
            path,
            plan_name=meta.plan_name,
            plan_digest=meta.plan_digest,
            timezone=entry.timezone if entry else None,
            job_days=entry.job_days if entry else 0,
            chunks=entry.chunks if entry else 0,
            locations=entry.locations if entry else (),
            clock=clock,
        )

    @classmethod
    def open_readonly(cls, path: str | os.PathLike[str]) -> SqliteJournal:
        """Open a journal to read it (`status`, reports), even while a run writes it.

        Raises:
            JournalError: there is no journal at `path`, or it is not one.
        """
        journal_path = Path(path)
        conn, meta, columns = open_for_reading(journal_path)
        return cls(
            conn,
            journal_path,
            meta,
            lock=None,
            reader=conn,
            writer=None,
            clock=SystemClock(),
            columns=columns,
        )

    @property
    def path(self) -> Path:
        return self._path

    @property
    def meta(self) -> JournalMeta:
        return self._meta

    # -- writes ----------------------------------------------------------------------

    def sync(self, chunks: Iterable[Chunk]) -> SyncSummary:
        writer = self._writable()
        now = self._clock.wall()

        before, after, planned = writer.transact(lambda conn: insert_chunks(conn, chunks, now))
        shown, orphaned = self.orphans(ORPHANS_SHOWN)
        added = after - before
        return SyncSummary(
            added=added, known=planned - added, orphaned=shown, orphaned_count=orphaned
        )

    async def mark_in_flight(
        self, key: str, started_at: float, *, screen: Screen | None = None
    ) -> ChunkRecord:
        writer = self._writable()
        new = begin_attempt(self._require(key), started_at, self._clock.wall())
        chunk = new.chunk
        # The ledger's invariant, checked against everything written (committed or
        # staged) with nothing awaited in between: no day is sent twice.
        others = self.job_records(JobIdentity.of(chunk), chunk.first_day, chunk.last_day)
        other = conflict(new, others)
        self._proposed.pop(key, None)
        if other is not None:
            raise DayCoveredError(key, other.key, other.plan)
        if screen is not None and (refused := screen(new, others)) is not None:
            raise refused
        # Durable before the caller writes the request; concurrent marks share a commit.
        await writer.wait_durable(writer.stage(new, mark=True))
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
        writer = self._writable()
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
        self._proposed.pop(key, None)
        writer.stage(new, mark=False)
        if writer.outcomes_due():  # no mark has taken them along for a while
            writer.commit()
        return new

    def flush(self) -> None:
        if self._writer is None or self._closed:
            return
        self._writer.commit()
        self._writer.checkpoint()

    def close(self) -> None:
        if self._closed:
            return
        try:
            if self._writer is not None and not self._writer.failed:
                self._writer.commit()
                self._writer.checkpoint()
        finally:
            self._closed = True
            if self._reader is not self._conn:
                self._reader.close()
            self._conn.close()
            # Deleted under the run: its log and index would stand beside a new journal
            # (and refuse it). Whether the writer saw the deletion first or a check did
            # (a race seen in CI: the log was left), the files go once ours are closed.
            if self._identity is not None and self._writer is not None:
                self._identity.forget_if_deleted()
            if self._lock is not None:
                self._lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "closed" if self._closed else ("read-only" if self._writer is None else "open")
        return f"SqliteJournal({str(self._path)!r}, plan={self._meta.plan_name!r}, {mode})"

    # -- internals -------------------------------------------------------------------

    def _writable(self) -> GroupCommitWriter:
        if self._closed:
            raise JournalError(f"journal {self._path} is closed")
        if self._writer is None:
            raise JournalError(f"journal {self._path} was opened read-only")
        return self._writer

    def _require(self, key: str) -> ChunkRecord:
        record = self.get(key)
        if record is None:
            raise JournalError(f"chunk {key} is not in journal {self._path}; sync the plan first")
        return record
