"""Group commit for `SqliteJournal`: writes are staged, then committed in rounds, one
transaction and one fsync per round, off the event loop.

Why: with ``synchronous=FULL`` every commit is an fsync (0.2-3 ms). Made on the event loop
for each in-flight mark, it serialised every call of a run behind its own fsync. Here the
caller only *stages* a write (a record the state machine has already accepted); a round
takes everything staged so far, applies it in one transaction and commits it once. Marks
staged while a round runs go together in the next one, so N concurrent marks cost about
one fsync, and the loop keeps sending in the meantime.

Why `anyio.to_thread.run_sync` and not a thread of our own: the waiter that finds no round
running leads the next one, so rounds follow each other back to back while marks keep
coming and nothing runs when they stop; there is no thread to start, stop or leak, no
queue, no asyncio-only wake-up from a foreign thread, and synchronous callers (`flush`,
`sync`, `close`, an outcome batch that is due) commit on their own thread the same way.
One connection is shared under a lock (it was opened with ``check_same_thread=False``);
the journal reads through a second, read-only connection, which WAL never makes wait for
a commit, and overlays what is staged but not yet committed (`latest`).

Only a commit that waits for the disk is worth a thread: with ``synchronous=NORMAL`` a
WAL commit is a write() with no fsync (about 10 us, against 300 us for FULL on the
development VM), cheaper than the trip to a worker thread and back, and the latency of
that trip slowed an unpaced run at low concurrency (0.57x -> 0.32x the calls/s of a loop
without journal in bench/bench_journal.py). So `offload=False` (NORMAL) commits inline.

Before each commit, `before_commit` runs (the journal checks there that its file is still
the one it opened: a journal deleted or replaced under a run stops it); after a commit,
the WAL is checkpointed into the main file at most every `checkpoint_interval` seconds,
so that the main file holds the truth even if the -wal file is lost later.

A failed commit (disk full, I/O error) poisons the writer: what was staged after it took
its records for granted, so every later write raises `JournalError` and the run stops.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import anyio

from .._clock import Clock
from .._failpoints import failpoint
from ._errors import JournalError
from ._job_cache import JobRecordsCache
from ._model import ChunkRecord, JobIdentity
from ._schema import UPSERT, record_row

T = TypeVar("T")

_RECENT = 4096  # records kept after their commit: more than any concurrency in flight

CHECKPOINT_INTERVAL = 5.0  # seconds between WAL checkpoints while commits go on


def _new_event() -> anyio.Event:
    # anyio is imported on the first write: `status` opens journals and never writes.
    import anyio  # noqa: PLC0415

    return anyio.Event()


@dataclass(eq=False, slots=True)
class _Round:
    """One commit: queued until it takes what is staged, then running until it commits."""

    ended: anyio.Event = field(default_factory=_new_event)
    last: int = 0  # the last ticket it took, once running


class GroupCommitWriter:
    """Stages journal writes and commits them in rounds. One per writable journal."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        clock: Clock,
        batch_size: int,
        batch_interval: float,
        offload: bool = True,
        before_commit: Callable[[], None] | None = None,
        checkpoint_interval: float = CHECKPOINT_INTERVAL,
    ) -> None:
        self._conn = conn
        self._before_commit = before_commit
        self._checkpoint_interval = checkpoint_interval
        self._checkpointed_at = clock.now()
        self._offload = offload
        self._clock = clock
        self._batch_size = batch_size
        self._batch_interval = batch_interval
        self._conn_lock = threading.Lock()  # the connection: one round (or sync writer) at a time
        self._lock = threading.Lock()  # what is staged, the tickets and the caches
        self._staged: list[ChunkRecord] = []
        self._tickets = 0  # writes staged so far
        self._durable = 0  # of which committed
        self._outcomes = 0  # outcomes staged since the last round took them
        self._outcomes_since = 0.0
        # Staged but not committed: the read connection cannot see these yet.
        self._dirty: dict[str, ChunkRecord] = {}
        # The last records written. Coherent because the run lock makes this the only
        # writer; it spares the read before an outcome, which follows its mark.
        self._recent: OrderedDict[str, ChunkRecord] = OrderedDict()
        # Jobs' records over their spans, for the same reason (see `_job_cache`).
        self._jobs = JobRecordsCache()
        self._transactions = 0  # of `transact` that may write chunk records
        self._queued: _Round | None = None  # the round that will take what is staged now
        self._running: _Round | None = None  # the round committing now
        self._failure: BaseException | None = None

    # -- what readers see ------------------------------------------------------------

    def latest(self, key: str) -> ChunkRecord | None:
        """The newest record this writer holds for `key` (staged or recently committed)."""
        record = self._dirty.get(key)
        return record if record is not None else self._recent.get(key)

    @property
    def durable(self) -> int:
        """How many of the staged writes are committed so far (it moves before a round's
        records leave the staged ones: a read can tell that a commit ended under it)."""
        return self._durable

    @property
    def read_mark(self) -> tuple[int, int]:
        """What a read made now may be kept against (`keep_job`): every write so far."""
        return self._tickets, self._transactions

    @property
    def tickets(self) -> int:
        """How many writes were staged so far (see `remember`)."""
        return self._tickets

    def remember(self, record: ChunkRecord, *, read_at: int) -> None:
        """Keep a record read from the database when `tickets` was `read_at`.

        Coherent for the same reason as the records written (no one else writes), as
        long as nothing was staged since the read; otherwise the record is not kept.
        """
        if read_at == self._tickets and record.key not in self._recent:
            with self._lock:
                self._keep(record)

    def job_records(self, job: JobIdentity, first: date, last: date) -> list[ChunkRecord] | None:
        """The records of `job` over `first..last` if that span is known (see `keep_job`)."""
        with self._lock:
            return self._jobs.records(job, first, last)

    def job_record(
        self, job: JobIdentity, first: date, last: date, key: str
    ) -> tuple[bool, ChunkRecord | None]:
        """Whether `job`'s span of `first..last` is known, and then `key`'s record in it."""
        with self._lock:
            return self._jobs.lookup(job, first, last, key)

    def keep_job(
        self,
        job: JobIdentity,
        first: date,
        last: date,
        records: list[ChunkRecord],
        *,
        read_at: tuple[int, int],
    ) -> None:
        """Keep a read of `job`'s records over `first..last` (staged writes laid over it),
        made when `read_mark` was `read_at`: not kept if anything was written since."""
        with self._lock:
            if read_at == (self._tickets, self._transactions):
                self._jobs.fill(job, first, last, records)

    def dirty_records(self) -> list[ChunkRecord]:
        """Records staged but not committed yet (few: a round's worth)."""
        with self._lock:
            return list(self._dirty.values())

    @property
    def dirty(self) -> bool:
        """Whether some write is not committed yet."""
        return bool(self._dirty)

    @property
    def failed(self) -> bool:
        """Whether a commit has failed (see `check`)."""
        return self._failure is not None

    # -- staging ---------------------------------------------------------------------

    def stage(self, record: ChunkRecord, *, mark: bool) -> int:
        """Queue `record` for the next round; returns its ticket for `wait_durable`."""
        with self._lock:
            self.check()  # under the lock: a round failing now clears what it holds first
            self._staged.append(record)
            self._tickets += 1
            self._dirty[record.key] = record
            self._keep(record)
            self._jobs.staged(record)
            if not mark:
                if not self._outcomes:
                    self._outcomes_since = self._clock.now()
                self._outcomes += 1
            return self._tickets

    def outcomes_due(self) -> bool:
        """Whether staged outcomes have waited long enough to commit without a mark."""
        if not self._outcomes or self._queued is not None:
            return False  # nothing to do, or a round is about to take them
        waited = self._clock.now() - self._outcomes_since
        return self._outcomes >= self._batch_size or waited >= self._batch_interval

    async def wait_durable(self, ticket: int) -> None:
        """Return once the write of `ticket` is committed, leading rounds as needed.

        Raises:
            JournalError: a commit failed (the first waiter of that round gets the
                database's own error).
        """
        if not self._offload:
            self.commit()  # cheaper than a trip to a thread (see the module's docstring)
            return
        from anyio import to_thread  # noqa: PLC0415 - see _new_event

        while self._durable < ticket:
            self.check()
            with self._lock:
                running, queued = self._running, self._queued
                lead = queued is None and (running is None or running.last < ticket)
                if lead:
                    queued = self._queued = _Round()
            if running is not None and running.last >= ticket:
                await running.ended.wait()  # ours is in the commit under way
            elif not lead:
                assert queued is not None
                await queued.ended.wait()  # ours will be in the next one
            else:
                # Queue the next round now: its thread waits for the connection and
                # commits as soon as the running round is done, with no gap between.
                assert queued is not None
                try:
                    # Not abandoned on cancel: a hard stop waits for the fsync under way.
                    await to_thread.run_sync(self._run_round, queued)
                finally:
                    with self._lock:
                        if self._queued is queued:  # cancelled before it ran
                            self._queued = None
                    queued.ended.set()

    # -- committing ------------------------------------------------------------------

    def commit(self) -> None:
        """Apply everything staged in one transaction and commit it, on this thread."""
        with self._conn_lock:
            self._commit_staged()

    def _run_round(self, round_: _Round) -> None:
        with self._conn_lock:
            try:
                self._commit_staged(round_)
            finally:
                self._running = None

    def transact(self, work: Callable[[sqlite3.Connection], T], *, chunks: bool = True) -> T:
        """Run `work` in a transaction of its own, after committing what is staged.

        `chunks`: whether `work` may write chunk records (then the jobs' records kept for
        reads are forgotten: they no longer see every write). A failure rolls `work` back
        and leaves the writer usable (nothing was staged on top of it).
        """
        with self._conn_lock:
            self._commit_staged()
            conn = self._conn
            try:
                if self._before_commit is not None:
                    self._before_commit()
                conn.execute("BEGIN IMMEDIATE")
                result = work(conn)
                self._commit_open()
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                if chunks:  # forgotten, and no read made before it may be kept after it
                    with self._lock:
                        self._jobs.clear()
                        self._transactions += 1
            return result

    def check(self) -> None:
        """Raise `JournalError` if a commit has failed."""
        if self._failure is not None:
            raise JournalError(
                f"a journal commit failed ({self._failure}); nothing more is written, "
                "stop the run and fix the cause (a later run resumes from the journal)"
            ) from self._failure

    def _commit_staged(self, round_: _Round | None = None) -> None:
        self.check()
        with self._lock:
            writes, self._staged = self._staged, []
            last = self._tickets
            self._outcomes = 0
            if round_ is not None:
                round_.last = last
                self._running = round_
                if self._queued is round_:
                    self._queued = None
        conn = self._conn
        try:
            if writes:
                if self._before_commit is not None:
                    self._before_commit()
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(UPSERT, [record_row(record) for record in writes])
            self._commit_open()
        except BaseException as exc:
            self._fail(exc)
            raise
        self._durable = last
        if writes:
            self._maybe_checkpoint()
        with self._lock:
            for record in writes:
                if self._dirty.get(record.key) is record:
                    del self._dirty[record.key]

    def checkpoint(self) -> None:
        """Copy the WAL into the main file (PASSIVE: never waits for a reader)."""
        # Under the connection's lock like every other statement: a checkpoint running on
        # one thread while a round commits on another fails that COMMIT ("SQL statements
        # in progress"), and the run would stop with its journal lost.
        with self._conn_lock:
            self._checkpoint()

    def _checkpoint(self) -> None:
        with contextlib.suppress(sqlite3.Error):  # a busy checkpoint is tried again later
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        self._checkpointed_at = self._clock.now()

    def _maybe_checkpoint(self) -> None:
        if self._clock.now() - self._checkpointed_at >= self._checkpoint_interval:
            self._checkpoint()

    def _keep(self, record: ChunkRecord) -> None:
        self._recent[record.key] = record
        self._recent.move_to_end(record.key)
        if len(self._recent) > _RECENT:
            self._recent.popitem(last=False)

    def _commit_open(self) -> None:
        if self._conn.in_transaction:
            failpoint("journal_write")  # crash tests kill here: inside, before the commit
            self._conn.execute("COMMIT")

    def _fail(self, exc: BaseException) -> None:
        # What was not committed is lost; forget every record we held, so that reads
        # tell the truth, and refuse what was staged on top of it.
        if self._conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already
                self._conn.execute("ROLLBACK")
        with self._lock:
            self._failure = exc
            self._staged.clear()
            self._dirty.clear()
            self._recent.clear()
            self._jobs.clear()
            self._outcomes = 0

    def __repr__(self) -> str:
        state = "failed" if self._failure else ("committing" if self._running else "idle")
        return (
            f"GroupCommitWriter({state}, staged={len(self._staged)}, "
            f"durable={self._durable}/{self._tickets})"
        )
