"""The PostgreSQL journal's reads: a job's records over a span of days, what a finished job
holds, records by state or key, days per plan, orphans, counts.

A mixin, so that `PostgresJournal` reads as the journal's lifecycle and writes, and this
file as what it asks of the database to read. Every read overlays the outcomes staged
but not written yet (`_pg_writes.OutcomeWriter`); the filtered and counted ones write
them first, as the SQLite journal commits before such reads.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

from ._model import ChunkRecord, ChunkStatus, JobIdentity, PlanEntry
from ._pg_schema import COLUMNS, JOB_RECORDS, SUCCEEDED_DAYS, to_record
from ._pg_setup import read_plans
from ._pg_writes import OutcomeWriter, job_params

if TYPE_CHECKING:
    import psycopg

    from ..plan._model import Chunk

T = TypeVar("T")
PAGE = 1000
_CHUNKS_KEPT = 8192


class PostgresReads:
    """Needs the journal's `_retry`, proposals, chunk cache and outcome writer."""

    _proposed: dict[str, ChunkRecord]
    _proposed_lock: threading.Lock
    _chunks: OrderedDict[str, Chunk]
    _outcomes: OutcomeWriter | None

    def _retry(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        raise NotImplementedError

    def plans(self) -> list[PlanEntry]:
        return self._retry(read_plans)

    # -- reads -----------------------------------------------------------------------

    def get(self, key: str) -> ChunkRecord | None:
        with self._proposed_lock:
            proposed = self._proposed.get(key)
        if proposed is not None:
            return proposed
        if self._outcomes is not None and (staged := self._outcomes.get(key)) is not None:
            return staged
        return self._read_record(key)

    def _read_record(self, key: str) -> ChunkRecord | None:
        sql = f"SELECT {COLUMNS} FROM rerun_chunks WHERE key = %s"  # noqa: S608 (constants)
        row = self._retry(lambda conn: conn.execute(sql, (key,)).fetchone())
        if not row:
            return None
        record = to_record(row)
        self._remember(record.chunk)
        return record

    def job_records(self, job: JobIdentity, first: date, last: date) -> list[ChunkRecord]:
        rows = self._retry(functools.partial(_fetch, JOB_RECORDS, job_params(job, first, last)))
        found = {row[1]: to_record(row) for row in rows}
        for record in found.values():
            self._remember(record.chunk)
        if self._outcomes is not None:  # staged, not written yet
            for record in self._outcomes.of_job(job):
                if record.chunk.first_day <= last and record.chunk.last_day >= first:
                    found[record.key] = record
        return sorted(found.values(), key=lambda r: r.chunk.first_day)

    def _remember(self, chunk: Chunk) -> None:
        with self._proposed_lock:
            self._chunks[chunk.key] = chunk
            self._chunks.move_to_end(chunk.key)
            if len(self._chunks) > _CHUNKS_KEPT:
                self._chunks.popitem(last=False)

    def succeeded_days(
        self, job: JobIdentity, first: date, last: date, *, generation: int = 0
    ) -> list[tuple[str | None, int, int]] | None:
        if self._outcomes is not None and self._outcomes.of_job(job):
            return None  # staged outcomes of the job: read `job_records`
        params = (last, first, *job_params(job, first, last), generation)
        rows = self._retry(lambda conn: conn.execute(SUCCEEDED_DAYS, params).fetchall())
        return [(plan, int(days), int(records)) for plan, days, records in rows]

    def records(
        self, statuses: Iterable[ChunkStatus] | None = None, *, plan_only: bool = False
    ) -> Iterator[ChunkRecord]:
        where, params = _filters(statuses, plan_only=plan_only)
        if where is None:
            return
        sql = f"SELECT {COLUMNS} FROM rerun_chunks WHERE seq > %s{where} ORDER BY seq LIMIT {PAGE}"  # noqa: S608
        last = 0
        while True:
            self._written()
            rows = self._retry(functools.partial(_fetch, sql, (last, *params)))
            if not rows:
                return
            for row in rows:
                yield to_record(row)
            last = rows[-1][0]

    def records_for(self, keys: Iterable[str]) -> Iterator[ChunkRecord | None]:
        sql = f"SELECT {COLUMNS} FROM rerun_chunks WHERE key = ANY(%s)"  # noqa: S608
        it = iter(keys)
        while batch := list(islice(it, 500)):
            rows = self._retry(functools.partial(_fetch, sql, (batch,)))
            found = {row[1]: to_record(row) for row in rows}
            for key in batch:
                staged = self._outcomes.get(key) if self._outcomes is not None else None
                yield staged or found.get(key)

    def days_by_plan(self) -> list[tuple[str | None, ChunkStatus, int]]:
        self._written()
        sql = "SELECT plan, status, SUM(days) FROM rerun_chunks GROUP BY plan, status ORDER BY plan"
        rows = self._retry(lambda conn: conn.execute(sql).fetchall())
        return [(plan, ChunkStatus(status), int(days)) for plan, status, days in rows]

    def orphans(self, limit: int | None = None) -> tuple[tuple[str, ...], int]:
        def read(conn: psycopg.Connection[Any]) -> tuple[tuple[str, ...], int]:
            total = conn.execute("SELECT COUNT(*) FROM rerun_orphans").fetchone()
            rows = conn.execute(
                "SELECT o.key FROM rerun_orphans o JOIN rerun_chunks c ON c.key = o.key "
                "ORDER BY c.seq LIMIT %s",
                (limit,),
            ).fetchall()
            return tuple(key for (key,) in rows), int(total[0]) if total else 0

        return self._retry(read)

    def counts(self, *, plan_only: bool = False) -> dict[ChunkStatus, int]:
        self._written()
        where, _ = _filters(None, plan_only=plan_only)
        sql = f"SELECT status, COUNT(*) FROM rerun_chunks WHERE true{where} GROUP BY status"  # noqa: S608
        rows = self._retry(lambda conn: conn.execute(sql).fetchall())
        counts = dict.fromkeys(ChunkStatus, 0)
        counts.update({ChunkStatus(status): int(n) for status, n in rows})
        return counts

    def _written(self) -> None:
        """Write the staged outcomes first (a read that cannot overlay them row by row)."""
        if self._outcomes is not None and self._outcomes.dirty:
            self._outcomes.flush()


def _fetch(sql: str, params: tuple[Any, ...], conn: psycopg.Connection[Any]) -> list[Any]:
    return conn.execute(sql.encode(), params).fetchall()


def _filters(
    statuses: Iterable[ChunkStatus] | None, *, plan_only: bool
) -> tuple[str | None, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if statuses is not None:
        wanted = sorted({ChunkStatus(s).value for s in statuses})
        if not wanted:
            return None, []
        clauses.append("status = ANY(%s)")
        params.append(wanted)
    if plan_only:
        clauses.append("key NOT IN (SELECT key FROM rerun_orphans)")
    return "".join(f" AND {clause}" for clause in clauses), params
