"""The journal's SQLite schema: tables, the mapping between rows and values, the meta rows.

Kept apart from `SqliteJournal` so that the storage format (what a journal file holds,
which plans wrote it, and how an older version migrates) reads in one place.

Schema 2 (this release): every chunk row also names the plan that wrote it, the zone its
days were cut in and its generation, and is indexed by job and first day, so that the
records touching a job's days are one indexed range read. A `plans` table remembers every
plan that ran on the journal. Schema 1 (the first release) is upgraded in place when a
run opens it (`migrate`): its chunks become records of the plan it names.

Schema 3 adds the ``job_facts`` table (`_job_facts`): what the pre-flight learnt about each
job. A journal of schema 1 or 2 gains it when a run opens it; nothing else changes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import date
from itertools import islice
from typing import Any

from ..plan._model import Chunk
from ._model import ChunkRecord, ChunkStatus, JournalMeta

SCHEMA_VERSION = 3
# Written in every journal's meta: what tells our file from any other SQLite database.
KIND = "rerun-orchestrator journal"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunks (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    region TEXT NOT NULL,
    namespace TEXT NOT NULL,
    namespace_source TEXT,
    group_id TEXT NOT NULL,
    job_id INTEGER NOT NULL,
    first_day TEXT NOT NULL,
    last_day TEXT NOT NULL,
    start_date INTEGER NOT NULL,
    end_date INTEGER NOT NULL,
    data_time TEXT NOT NULL,
    days INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    request_id TEXT,
    code,  -- no type, hence no affinity: "Throttling.User" stays text and 500 stays integer
    message TEXT,
    reason TEXT,
    instance_ids TEXT NOT NULL DEFAULT '[]',
    attempt_started_at REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    plan TEXT,
    timezone TEXT,
    generation INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chunks_status ON chunks(status, seq);
CREATE TABLE IF NOT EXISTS orphans (key TEXT PRIMARY KEY) WITHOUT ROWID;
"""
# Created after a migration has added the columns it names.
INDEXES = """
CREATE INDEX IF NOT EXISTS chunks_job ON chunks(job_id, group_id, namespace, region, first_day);
CREATE TABLE IF NOT EXISTS plans (
    name TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    timezone TEXT,
    job_days INTEGER NOT NULL DEFAULT 0,
    chunks INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    rerun_generation INTEGER NOT NULL DEFAULT 0,
    locations TEXT  -- JSON: [[region, namespace, namespace_source, group], ...]
) WITHOUT ROWID;
"""

CHUNK_COLUMNS = (
    "key, region, namespace, namespace_source, group_id, job_id, first_day, last_day, "
    "start_date, end_date, data_time, days"
)
COLUMNS = (
    f"seq, {CHUNK_COLUMNS}, status, attempts, request_id, code, message, reason, "
    "instance_ids, attempt_started_at, updated_at, plan, timezone, generation"
)
# A staged record is the chunk's whole new state: inserted if new, else its state replaced.
UPSERT = (
    f"INSERT INTO chunks ({CHUNK_COLUMNS}, status, attempts, request_id, code, message, "  # noqa: S608
    "reason, instance_ids, attempt_started_at, created_at, updated_at, plan, timezone, "
    "generation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "?, ?, ?) ON CONFLICT(key) DO UPDATE SET status = excluded.status, "
    "attempts = excluded.attempts, request_id = excluded.request_id, code = excluded.code, "
    "message = excluded.message, reason = excluded.reason, "
    "instance_ids = excluded.instance_ids, attempt_started_at = excluded.attempt_started_at, "
    "updated_at = excluded.updated_at, plan = excluded.plan, timezone = excluded.timezone, "
    "generation = excluded.generation"
)
# How many days of a span a job's succeeded records hold, and how many records they are.
SUCCEEDED_DAYS = (
    "SELECT plan, SUM(julianday(MIN(last_day, ?)) - julianday(MAX(first_day, ?)) + 1), "
    "COUNT(*) FROM chunks WHERE job_id = ? AND group_id = ? AND namespace = ? AND region = ? "
    "AND namespace_source IS ? AND first_day <= ? AND last_day >= ? AND status = 'succeeded' "
    "AND generation >= ? GROUP BY plan"
)
# The records of one job that touch a span of days (the chunks_job index serves it).
JOB_RECORDS = (
    f"SELECT {COLUMNS} FROM chunks WHERE job_id = ? AND group_id = ? AND namespace = ? "  # noqa: S608
    "AND region = ? AND namespace_source IS ? AND first_day <= ? AND last_day >= ? "
    "ORDER BY first_day, seq"
)
# Every f-string in the journal's SQL interpolates these constants or "?" marks, never data.
INSERT = (
    f"INSERT OR IGNORE INTO chunks ({CHUNK_COLUMNS}, status, created_at, updated_at) "  # noqa: S608
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)"
)
SYNC_BATCH = 5000
PAGE = 1000


def read_meta(conn: sqlite3.Connection) -> JournalMeta | None:
    try:
        rows = dict(conn.execute("SELECT name, value FROM meta").fetchall())
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    if "plan_name" not in rows and rows.get("kind") != KIND:
        return None
    return JournalMeta(
        plan_name=str(rows.get("plan_name", "")),
        plan_digest=str(rows.get("plan_digest", "")),
        created_at=float(rows.get("created_at", 0.0)),
        schema_version=int(rows.get("schema_version", 1)),
        previous_digest=rows.get("previous_digest"),
    )


def write_meta(conn: sqlite3.Connection, meta: JournalMeta) -> None:
    values = {
        "kind": KIND,
        "plan_name": meta.plan_name,
        "plan_digest": meta.plan_digest,
        "created_at": meta.created_at,
        "schema_version": meta.schema_version,
        "previous_digest": meta.previous_digest,
    }
    with conn:  # its own short transaction (isolation_level=None: explicit BEGIN)
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())


def filters(
    statuses: Iterable[ChunkStatus] | None, *, plan_only: bool
) -> tuple[str | None, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if statuses is not None:
        wanted = sorted({ChunkStatus(s).value for s in statuses})
        if not wanted:
            return None, []
        if len(wanted) == 1:
            clauses.append("status = ?")  # the (status, seq) index serves this in order
        else:
            # '+' keeps the planner on the seq order instead of sorting each page.
            clauses.append(f"+status IN ({','.join('?' * len(wanted))})")
        params.extend(wanted)
    if plan_only:
        clauses.append("key NOT IN (SELECT key FROM orphans)")
    return "".join(f" AND {clause}" for clause in clauses), params


def chunk_row(chunk: Chunk) -> tuple[Any, ...]:
    return (
        chunk.key,
        chunk.region,
        chunk.namespace,
        chunk.namespace_source,
        chunk.group_id,
        chunk.job_id,
        chunk.first_day.isoformat(),
        chunk.last_day.isoformat(),
        chunk.start_date,
        chunk.end_date,
        chunk.data_time,
        chunk.days,
    )


def to_record(row: Sequence[Any]) -> ChunkRecord:
    chunk = Chunk(
        key=row[1],
        region=row[2],
        namespace=row[3],
        namespace_source=row[4],
        group_id=row[5],
        job_id=row[6],
        first_day=date.fromisoformat(row[7]),
        last_day=date.fromisoformat(row[8]),
        start_date=row[9],
        end_date=row[10],
        data_time=row[11],
        days=row[12],
    )
    code = row[16]
    return ChunkRecord(
        chunk=chunk,
        status=ChunkStatus(row[13]),
        attempts=row[14],
        request_id=row[15],
        code=code if isinstance(code, str | int) else None,
        message=row[17],
        reason=row[18],
        instance_ids=tuple(json.loads(row[19])),
        attempt_started_at=row[20],
        updated_at=row[21],
        plan=row[22],
        timezone=row[23],
        generation=row[24],
    )


def record_row(record: ChunkRecord) -> tuple[Any, ...]:
    """The values of `UPSERT` for `record`."""
    now = record.updated_at if record.updated_at is not None else 0.0
    return (
        *chunk_row(record.chunk),
        record.status.value,
        record.attempts,
        record.request_id,
        record.code,
        record.message,
        record.reason,
        json.dumps(record.instance_ids),
        record.attempt_started_at,
        now,
        now,
        record.plan,
        record.timezone,
        record.generation,
    )


def connect(database: str, *, readonly: bool) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so batching is explicit.
    return sqlite3.connect(
        database, uri=readonly, isolation_level=None, check_same_thread=False, timeout=10.0
    )


def insert_chunks(
    conn: sqlite3.Connection, chunks: Iterable[Chunk], now: float
) -> tuple[int, int, int]:
    """`sync`'s work in one transaction: insert the new chunks as pending, mark the others
    as orphans. Returns the chunk counts before and after, and how many were given."""
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
    conn.execute("DROP TABLE temp.plan_keys")
    return before, after, planned
