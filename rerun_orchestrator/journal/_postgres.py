"""`PostgresJournal`: the journal in PostgreSQL, shared by any number of replicas of a run.

Why these choices:
- psycopg 3 with its connection pool (`pip install 'rerun-orchestrator[postgres]'`),
  ``prepare_threshold=None`` so that PgBouncer in transaction mode works, autocommit
  outside the explicit transactions of writes.
- A chunk's attempts (`_pg_attempts`): `mark_in_flight` is one fenced
  transaction in a worker thread, committed before the request is written; outcomes are
  staged and written in batches by a thread of their own (`record_outcome` never waits).
  Reads (`_pg_reads`), day instances and job facts are mixins of their own too.
- ``remote = True``: the executor makes this journal's calls off the event loop
  (`run._offloop`).
- When the database goes away (restart, failover), every call waits for it and tries
  again, up to `outage_seconds`; a mark whose commit was cut off is recognised on the
  next try (same owner and start time), never applied twice.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, Self, TypeVar

import psycopg
import structlog
from psycopg_pool import ConnectionPool

from .._clock import Clock, SystemClock
from ..plan._model import Chunk
from ._errors import JournalError
from ._lease import DEFAULT_LEASE_SECONDS, JobLeases
from ._model import ChunkRecord, ChunkStatus, JournalMeta, PlanEntry
from ._pg_attempts import PostgresAttempts, ReplicaWork
from ._pg_connect import bounded_transaction, open_pool, replica_name, retrying
from ._pg_groups import GroupSlots
from ._pg_instances import PostgresDayInstances
from ._pg_job_facts import PostgresJobFacts
from ._pg_reads import PostgresReads
from ._pg_schema import INSERT_PENDING, chunk_row, migrate, schema_version
from ._pg_setup import adopt_plan, read_meta
from ._pg_writes import OutcomeWriter
from ._store import SyncSummary
from ._url import redact

T = TypeVar("T")
_log = structlog.get_logger("rerun_orchestrator.journal")

ORPHANS_SHOWN = 100
DEFAULT_OUTAGE_SECONDS = 120.0


class PostgresJournal(PostgresAttempts, PostgresDayInstances, PostgresJobFacts, PostgresReads):
    """The `Journal` in a PostgreSQL database. Build it with `open` or `open_readonly`."""

    remote = True  # every call is a round trip: the executor makes them off the loop

    def __init__(
        self,
        pool: ConnectionPool[psycopg.Connection[Any]],
        url: str,
        meta: JournalMeta,
        *,
        writable: bool,
        clock: Clock,
        owner: str,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        outage_seconds: float = DEFAULT_OUTAGE_SECONDS,
    ) -> None:
        self._pool = pool
        self._where = redact(url)
        self._meta = meta
        self._writable_ = writable
        self._clock = clock
        self.owner = owner
        self._outage = outage_seconds
        self._proposed: dict[str, ChunkRecord] = {}
        self._proposed_lock = threading.Lock()
        # Chunks seen by key: a write locks its job without reading the row first.
        self._chunks: OrderedDict[str, Chunk] = OrderedDict()
        self._idle_ms = max(1000, round(lease_seconds * 1000 / 3))
        self._marked: OrderedDict[str, ChunkRecord] = OrderedDict()  # our last marks
        self.work = ReplicaWork()
        self._outcomes: OutcomeWriter | None = None
        self.leases = JobLeases(pool.connection, owner, lease_seconds, before_release=self.flush)
        # group caps across replicas; a slot is given back once the outcomes are written
        self.group_slots = GroupSlots(
            self._retry, owner, before_release=self.flush, idle_ms=self._idle_ms
        )
        if writable:
            self._outcomes = OutcomeWriter(
                self._retry, owner=owner, leases=self.leases, idle_ms=self._idle_ms
            )
        self._closed = False

    @classmethod
    def open(
        cls,
        url: str,
        *,
        plan_name: str,
        plan_digest: str,
        clock: Clock | None = None,
        timezone: str | None = None,
        job_days: int = 0,
        chunks: int = 0,
        locations: Iterable[tuple[str, str, str | None, str]] = (),
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        outage_seconds: float = DEFAULT_OUTAGE_SECONDS,
        max_connections: int = 16,
    ) -> PostgresJournal:
        """Open the journal at `url` for a run of `plan_name`, creating its tables (or
        migrating them) if needed. No run lock: replicas share the work through leases.

        Raises:
            JournalError: the database cannot be reached, holds a newer schema, or the
                plan's zone or a location's spelling changed after it covered days.
        """
        clock = clock or SystemClock()
        pool = open_pool(url, max_connections)
        try:
            with pool.connection() as conn:
                if migrate(conn, redact(url)):
                    _log.info("rerun.journal.created", journal=redact(url))
                entry = PlanEntry(
                    plan_name, plan_digest, timezone, job_days, chunks, locations=tuple(locations)
                )
                meta = adopt_plan(conn, redact(url), entry, clock.wall())
        except BaseException as exc:
            pool.close()
            if isinstance(exc, psycopg.Error):
                raise JournalError(f"journal {redact(url)} cannot be used: {exc}") from exc
            raise
        return cls(
            pool,
            url,
            meta,
            writable=True,
            clock=clock,
            owner=replica_name(),
            lease_seconds=lease_seconds,
            outage_seconds=outage_seconds,
        )

    @classmethod
    def open_existing(cls, url: str, *, clock: Clock | None = None) -> PostgresJournal:
        """Open for writing, for whatever plan ran last (settling chunks by hand)."""
        with cls.open_readonly(url) as journal:
            plans = journal.plans()
        if not plans:
            raise JournalError(f"journal {redact(url)} records no plan")
        last = plans[0]
        return cls.open(
            url,
            plan_name=last.name,
            plan_digest=last.digest,
            timezone=last.timezone,
            job_days=last.job_days,
            chunks=last.chunks,
            locations=last.locations,
            clock=clock,
        )

    @classmethod
    def open_readonly(cls, url: str) -> PostgresJournal:
        """Open to read (`status`, reports), from any machine, while replicas write.

        Raises:
            JournalError: the database cannot be reached or holds no journal.
        """
        pool = open_pool(url, 2)
        try:
            with pool.connection() as conn:
                version = schema_version(conn)
                meta = read_meta(conn) if version else None
        except BaseException as exc:
            pool.close()
            if isinstance(exc, psycopg.Error):
                raise JournalError(f"journal {redact(url)} cannot be read: {exc}") from exc
            raise
        if meta is None:
            pool.close()
            raise JournalError(f"no journal at {redact(url)}")
        return cls(pool, url, meta, writable=False, clock=SystemClock(), owner="reader")

    def connection(self) -> contextlib.AbstractContextManager[psycopg.Connection[Any]]:
        """A pooled connection to the journal's database (the shared pacer uses it)."""
        return self._pool.connection()

    def retry(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run `work` on a pooled connection, waiting out an outage (the shared pacer)."""
        return self._retry(work)

    @property
    def outcomes_refused(self) -> int:
        """Outcomes not written because their job's lease was lost (left in flight)."""
        return self._outcomes.refused if self._outcomes is not None else 0

    @property
    def location(self) -> str:
        """The journal's URL, without its password."""
        return self._where

    @property
    def meta(self) -> JournalMeta:
        return self._meta

    def propose(
        self, chunk: Chunk, *, plan: str | None, timezone: str | None, generation: int = 0
    ) -> ChunkRecord:
        existing = self.get(chunk.key)
        if existing is not None:
            return existing
        record = ChunkRecord(
            chunk,
            ChunkStatus.PENDING,
            updated_at=self._clock.wall(),
            plan=plan,
            timezone=timezone,
            generation=generation,
        )
        with self._proposed_lock:
            self._proposed[chunk.key] = record
        self._remember(chunk)
        return record

    # -- writes ----------------------------------------------------------------------

    def start_generation(self, plan_name: str, *, seen: int | None = None) -> int:
        self._check_writable()

        def bump(conn: psycopg.Connection[Any]) -> int:
            with bounded_transaction(conn, self._idle_ms):
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 1))", (plan_name,))
                current = conn.execute(
                    "SELECT rerun_generation FROM rerun_plans WHERE name = %s", (plan_name,)
                ).fetchone()
                if seen is not None and current is not None and int(current[0]) > seen:
                    return int(current[0])  # a replica started one since the caller looked
                top = conn.execute(
                    "SELECT GREATEST((SELECT COALESCE(MAX(generation), 0) FROM rerun_chunks), "
                    "(SELECT COALESCE(MAX(rerun_generation), 0) FROM rerun_plans))"
                ).fetchone()
                generation = int(top[0] if top else 0) + 1
                conn.execute(
                    "UPDATE rerun_plans SET rerun_generation = %s WHERE name = %s",
                    (generation, plan_name),
                )
                return generation

        return self._retry(bump)

    def sync(self, chunks: Iterable[Chunk]) -> SyncSummary:
        self._check_writable()
        now = self._clock.wall()
        listed = list(chunks)

        def insert(conn: psycopg.Connection[Any]) -> tuple[int, int]:
            with bounded_transaction(conn, self._idle_ms):
                before = conn.execute("SELECT COUNT(*) FROM rerun_chunks").fetchone()
                with conn.cursor() as cur:
                    cur.executemany(INSERT_PENDING, [(*chunk_row(c), now, now) for c in listed])
                after = conn.execute("SELECT COUNT(*) FROM rerun_chunks").fetchone()
                conn.execute("DELETE FROM rerun_orphans")
                conn.execute(
                    "INSERT INTO rerun_orphans SELECT key FROM rerun_chunks "
                    "WHERE NOT (key = ANY(%s))",
                    ([c.key for c in listed],),
                )
                return int(before[0]) if before else 0, int(after[0]) if after else 0

        before, after = self._retry(insert)
        shown, orphaned = self.orphans(ORPHANS_SHOWN)
        planned = len({c.key for c in listed})
        added = after - before
        return SyncSummary(
            added=added, known=planned - added, orphaned=shown, orphaned_count=orphaned
        )

    def flush(self) -> None:
        """Write every staged outcome; returns once they are committed."""
        if self._outcomes is not None and not self._closed:
            self._outcomes.flush()

    def close(self) -> None:
        if self._closed:
            return
        try:
            if self._outcomes is not None:
                self._outcomes.close()
        finally:
            self._closed = True
            try:
                self.leases.close()
            finally:
                self._pool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "closed" if self._closed else ("open" if self._writable_ else "read-only")
        return f"PostgresJournal({self._where!r}, plan={self._meta.plan_name!r}, {mode})"

    # -- internals -------------------------------------------------------------------

    def _check_writable(self) -> None:
        if self._closed:
            raise JournalError(f"journal {self._where} is closed")
        if not self._writable_:
            raise JournalError(f"journal {self._where} was opened read-only")

    def _retry(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run `work` on a pooled connection; while the database is away, wait and retry."""
        if self._closed:
            raise JournalError(f"journal {self._where} is closed")
        return retrying(self._pool, self._where, self._outage, work)
