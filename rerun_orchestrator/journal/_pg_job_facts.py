"""The pre-flight's job facts kept in PostgreSQL (``rerun_job_facts``, migration 4).

The same rows as the SQLite journal's ``job_facts`` (`_job_facts`), so that every replica
(and a later run on another machine) shares what one pre-flight learnt: a job checked by
any replica within the cache's age is not asked again. Only good jobs are kept; a job
found bad is deleted, so that no stale "good" stays behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from ._model import JobFactsEntry, JobIdentity
from ._pg_connect import bounded_transaction, execute_rows

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")

_COLUMNS = (
    "region, namespace, namespace_source, group_id, job_id, name, enabled, max_concurrency, "
    "time_type, expression, calendar, data_offset, professional, checked_at"
)
_UPSERT = (
    f"INSERT INTO rerun_job_facts ({_COLUMNS}) VALUES ({', '.join(['%s'] * 14)}) "  # noqa: S608
    "ON CONFLICT (region, namespace, namespace_source, group_id, job_id) DO UPDATE SET "
    "name = EXCLUDED.name, enabled = EXCLUDED.enabled, "
    "max_concurrency = EXCLUDED.max_concurrency, time_type = EXCLUDED.time_type, "
    "expression = EXCLUDED.expression, calendar = EXCLUDED.calendar, "
    "data_offset = EXCLUDED.data_offset, professional = EXCLUDED.professional, "
    "checked_at = EXCLUDED.checked_at"
)
_DELETE = (
    "DELETE FROM rerun_job_facts WHERE region = %s AND namespace = %s "
    "AND namespace_source = %s AND group_id = %s AND job_id = %s"
)


def _key(job: JobIdentity) -> tuple[Any, ...]:
    # '' for none: NULLs never collide in a primary key
    return (job.region, job.namespace, job.namespace_source or "", job.group_id, job.job_id)


def _row(entry: JobFactsEntry) -> tuple[Any, ...]:
    return (
        *_key(entry.job),
        entry.name,
        entry.enabled,
        entry.max_concurrency,
        entry.time_type,
        entry.expression,
        entry.calendar,
        entry.data_offset,
        entry.professional,
        entry.checked_at,
    )


def _entry(row: tuple[Any, ...]) -> JobFactsEntry:
    job = JobIdentity(row[0], row[1], row[2] or None, row[3], int(row[4]))
    return JobFactsEntry(
        job,
        name=row[5],
        enabled=bool(row[6]),
        max_concurrency=int(row[7]),
        time_type=row[8],
        expression=row[9],
        calendar=row[10],
        data_offset=row[11],
        professional=row[12],
        checked_at=float(row[13]),
    )


class PostgresJobFacts:
    """`PostgresJournal`'s job-facts methods (needs its `_retry` and write check)."""

    _idle_ms: int

    def _retry(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        raise NotImplementedError

    def _check_writable(self) -> None:
        raise NotImplementedError

    def job_facts(self) -> dict[JobIdentity, JobFactsEntry]:
        """Every job's facts a pre-flight of any replica recorded, with when it checked."""

        def read(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
            sql = f"SELECT {_COLUMNS} FROM rerun_job_facts"  # noqa: S608 - constant columns
            return conn.execute(sql.encode()).fetchall()

        entries = (_entry(row) for row in self._retry(read))
        return {entry.job: entry for entry in entries}

    def record_job_facts(
        self, facts: Iterable[JobFactsEntry], *, forget: Iterable[JobIdentity] = ()
    ) -> None:
        """Durably record the facts of good jobs (replacing older ones) and delete those of
        jobs in `forget` (found bad), in one transaction."""
        rows, gone = [_row(entry) for entry in facts], [_key(job) for job in forget]
        if not rows and not gone:
            return
        self._check_writable()

        def write(conn: psycopg.Connection[Any]) -> None:
            with bounded_transaction(conn, self._idle_ms), conn.cursor() as cursor:
                if rows:
                    execute_rows(cursor, _UPSERT.encode(), rows)
                if gone:
                    execute_rows(cursor, _DELETE.encode(), gone)

        self._retry(write)
