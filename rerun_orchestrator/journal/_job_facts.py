"""The journal's ``job_facts`` table (schema 3): what the pre-flight learnt about each job.

One row per job at its location (region, namespace, namespace source, group, job), so a
resumed run asks SchedulerX only about jobs it has not checked, and the capacity gate and
`watch` read a job's ``MaxConcurrency`` from the journal. Only good jobs are written; a job
found bad is deleted, so that no stale "good" stays behind it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from typing import Any

from ._model import JobFactsEntry, JobIdentity
from ._writer import GroupCommitWriter

JOB_FACTS_TABLE = """
CREATE TABLE IF NOT EXISTS job_facts (
    region TEXT NOT NULL,
    namespace TEXT NOT NULL,
    namespace_source TEXT NOT NULL DEFAULT '',  -- '' for none: NULLs never collide in a key
    group_id TEXT NOT NULL,
    job_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    max_concurrency INTEGER NOT NULL,
    time_type INTEGER,
    expression TEXT,
    calendar TEXT,
    data_offset INTEGER,
    professional INTEGER,
    checked_at REAL NOT NULL,
    PRIMARY KEY (region, namespace, namespace_source, group_id, job_id)
) WITHOUT ROWID;
"""
_COLUMNS = (
    "region, namespace, namespace_source, group_id, job_id, name, enabled, max_concurrency, "
    "time_type, expression, calendar, data_offset, professional, checked_at"
)
_UPSERT = f"INSERT OR REPLACE INTO job_facts ({_COLUMNS}) VALUES ({', '.join('?' * 14)})"  # noqa: S608
_DELETE = (
    "DELETE FROM job_facts WHERE region = ? AND namespace = ? AND namespace_source = ? "
    "AND group_id = ? AND job_id = ?"
)


def _key(job: JobIdentity) -> tuple[Any, ...]:
    return (job.region, job.namespace, job.namespace_source or "", job.group_id, job.job_id)


def _row(entry: JobFactsEntry) -> tuple[Any, ...]:
    professional = None if entry.professional is None else int(entry.professional)
    return (
        *_key(entry.job),
        entry.name,
        int(entry.enabled),
        entry.max_concurrency,
        entry.time_type,
        entry.expression,
        entry.calendar,
        entry.data_offset,
        professional,
        entry.checked_at,
    )


def read_job_facts(conn: sqlite3.Connection) -> dict[JobIdentity, JobFactsEntry]:
    """Every row; empty for a journal of an older schema opened read-only."""
    try:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM job_facts").fetchall()  # noqa: S608
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return {}
        raise
    found = {}
    for row in rows:
        job = JobIdentity(row[0], row[1], row[2] or None, row[3], row[4])
        found[job] = JobFactsEntry(
            job,
            name=row[5],
            enabled=bool(row[6]),
            max_concurrency=row[7],
            time_type=row[8],
            expression=row[9],
            calendar=row[10],
            data_offset=row[11],
            professional=None if row[12] is None else bool(row[12]),
            checked_at=row[13],
        )
    return found


def write_job_facts(
    conn: sqlite3.Connection, facts: Iterable[JobFactsEntry], forget: Iterable[JobIdentity]
) -> None:
    """Within the caller's transaction: replace the rows of `facts`, delete those of `forget`."""
    conn.executemany(_UPSERT, [_row(entry) for entry in facts])
    conn.executemany(_DELETE, [_key(job) for job in forget])


class JobFactsQueries:
    """`SqliteJournal`'s side of the table (a mixin): reads through its read connection,
    writes in one short transaction of its writer's connection."""

    _reader: sqlite3.Connection
    _read_lock: threading.Lock

    def _writable(self) -> GroupCommitWriter:
        raise NotImplementedError

    def job_facts(self) -> dict[JobIdentity, JobFactsEntry]:
        """Every job's facts the pre-flight recorded, with when it checked them."""
        with self._read_lock:
            return read_job_facts(self._reader)

    def record_job_facts(
        self, facts: Iterable[JobFactsEntry], *, forget: Iterable[JobIdentity] = ()
    ) -> None:
        """Durably record the facts of good jobs (replacing older ones) and delete those of
        jobs in `forget` (found bad)."""
        entries, bad = list(facts), list(forget)
        if entries or bad:
            self._writable().transact(
                lambda conn: write_job_facts(conn, entries, bad), chunks=False
            )
