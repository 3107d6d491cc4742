"""The PostgreSQL journal's writes: the locked, fenced read that starts every write, and
the outcome writer that takes outcome writes off the event loop.

Every write transaction starts the same way (`locked`): end the transaction if it is left
idle (a frozen replica must not hold locks; never pipelined, which would leave the server's
idle timer unarmed: `_pg_connect.bounded_transaction`), take the
job's advisory lock (every writer of a job takes it, so the ledger's check and the write
cannot interleave with another replica's), read the job's lease for the fence, and read
the job's records over the chunk's days, the chunk's own among them.

Outcomes are staged and written by a thread of their own (`OutcomeWriter`), in batches,
each outcome fenced by its job's lease: `record_outcome` never waits for the database.
The journal's reads overlay what is staged, a mark writes the staged outcomes first
(so a retry's mark sees its pending outcome), and a lease is released only once its
job's outcomes are written. An outcome lost in a crash, or refused because the lease
was lost, leaves its chunk in flight: reconciled by whoever holds the job next, never
resent blindly.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

import structlog

from ._errors import JournalError
from ._lease import JobLeases, LeaseLostError, job_key
from ._model import ChunkRecord, JobIdentity
from ._pg_schema import COLUMNS, JOB_RECORDS_OWNER, UPSERT, record_row, to_record

if TYPE_CHECKING:
    import psycopg

    from ..plan._model import Chunk

_log = structlog.get_logger("rerun_orchestrator.journal")

_LOCK_JOB = (
    "SELECT set_config('idle_in_transaction_session_timeout', %s, true), "
    "pg_advisory_xact_lock(hashtextextended(%s, 0))"
)


def job_params(job: JobIdentity, first: date, last: date) -> tuple[Any, ...]:
    return (job.job_id, job.group_id, job.namespace, job.region, job.namespace_source, last, first)


def locked(
    conn: psycopg.Connection[Any],
    key: str,
    chunk: Chunk | None,
    proposed: ChunkRecord | None,
    *,
    leases: JobLeases,
    idle_ms: int,
    where: str,
) -> tuple[ChunkRecord, str | None, list[ChunkRecord]]:
    """Inside a write's transaction: lock the chunk's job, fence the write and read the
    job's records over the chunk's days. Returns the chunk's record, who wrote it last,
    and the job's records.

    Raises:
        LeaseLostError: another replica holds the job's lease, or ours was lost.
        JournalError: the chunk is neither in the journal nor proposed.
    """
    if chunk is None:
        sql = f"SELECT {COLUMNS} FROM rerun_chunks WHERE key = %s"  # noqa: S608 (constants)
        row = conn.execute(sql, (key,)).fetchone()
        if row is None:
            raise JournalError(f"chunk {key} is not in journal {where}; propose or sync it first")
        chunk = to_record(row).chunk
    job = JobIdentity.of(chunk)
    conn.execute(_LOCK_JOB, (str(idle_ms), job_key(job)))
    lease = leases.fence_read(conn, job)
    rows = conn.execute(JOB_RECORDS_OWNER, job_params(job, chunk.first_day, chunk.last_day))
    leases.fence_check(lease.fetchone(), job, key)
    records: list[ChunkRecord] = []
    current, owner = proposed, None
    for row in rows.fetchall():
        record = to_record(row)
        records.append(record)
        if record.key == key:
            current, owner = record, row[-1]
    if current is None:
        raise JournalError(f"chunk {key} is not in journal {where}; propose or sync it first")
    return current, owner, records


class OutcomeWriter:
    """Writes staged outcomes in batches from a thread of its own."""

    def __init__(
        self,
        run: Callable[[Callable[[psycopg.Connection[Any]], Any]], Any],
        *,
        owner: str,
        leases: JobLeases,
        idle_ms: int,
    ) -> None:
        self._run = run  # the journal's retrying runner of a connection's work
        self._owner = owner
        self._leases = leases
        self._idle_ms = idle_ms
        self._staged: OrderedDict[str, ChunkRecord] = OrderedDict()
        self._lock = threading.Lock()  # the staged records
        self._write_lock = threading.Lock()  # one batch written at a time
        self._wake = threading.Condition(self._lock)
        self._closing = False
        self._failure: BaseException | None = None
        self.refused = 0  # outcomes dropped because their job's lease was lost
        self._thread = threading.Thread(target=self._loop, name="rerun-outcomes", daemon=True)
        self._thread.start()

    def stage(self, record: ChunkRecord) -> None:
        self.check()
        with self._lock:
            self._staged[record.key] = record
            self._staged.move_to_end(record.key)
            self._wake.notify()

    def get(self, key: str) -> ChunkRecord | None:
        with self._lock:
            return self._staged.get(key)

    def of_job(self, job: JobIdentity) -> list[ChunkRecord]:
        with self._lock:
            return [r for r in self._staged.values() if JobIdentity.of(r.chunk) == job]

    @property
    def dirty(self) -> bool:
        with self._lock:
            return bool(self._staged)

    def check(self) -> None:
        if self._failure is not None:
            raise JournalError(
                f"a journal write failed ({self._failure}); nothing more is written, stop "
                "the run and fix the cause (a later run resumes from the journal)"
            ) from self._failure

    def flush(self) -> None:
        """Write everything staged now, on this thread; returns once it is committed."""
        self.check()
        with self._write_lock:
            with self._lock:
                batch = list(self._staged.values())
            if batch:
                self._write(batch)

    def close(self) -> None:
        with self._lock:
            self._closing = True
            self._wake.notify()
        self._thread.join(timeout=30)
        if self._failure is None:
            self.flush()

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._staged and not self._closing:
                    self._wake.wait()
                if self._closing:
                    return
            try:
                self.flush()
            except JournalError as exc:  # the database stayed away: the run will see it
                _log.error("rerun.journal.outcomes_failed", error=str(exc))
                return

    def _write(self, batch: list[ChunkRecord]) -> None:
        by_job: dict[str, list[ChunkRecord]] = {}
        for record in batch:
            by_job.setdefault(job_key(JobIdentity.of(record.chunk)), []).append(record)

        def work(conn: psycopg.Connection[Any]) -> list[ChunkRecord]:
            refused: list[ChunkRecord] = []
            with conn.transaction():  # not pipelined: see `_pg_connect.bounded_transaction`
                fences = []
                for key in sorted(by_job):  # in one order: two writers never deadlock
                    conn.execute(_LOCK_JOB, (str(self._idle_ms), key))
                    job = JobIdentity.of(by_job[key][0].chunk)
                    fences.append((job, by_job[key], self._leases.fence_read(conn, job)))
                for job, records, cursor in fences:
                    try:
                        self._leases.fence_check(cursor.fetchone(), job, records[0].key)
                    except LeaseLostError:
                        refused.extend(records)
                        continue
                    for record in records:
                        conn.execute(UPSERT, record_row(record, self._owner))
            return refused

        try:
            refused = self._run(work)
        except JournalError as exc:
            self._failure = exc
            raise
        except Exception as exc:  # not the database being away: nothing more is written
            self._failure = exc
            raise JournalError(f"a journal write failed: {exc}") from exc
        with self._lock:
            for record in batch:
                if self._staged.get(record.key) is record:
                    del self._staged[record.key]
        for record in refused:
            self.refused += 1
            _log.warning(
                "rerun.journal.outcome_refused",
                chunk=record.key,
                status=str(record.status),
                reason="the job's lease was lost; the chunk stays in flight for its new holder",
            )
