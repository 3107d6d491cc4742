"""The journal's SQLite schema: tables, the mapping between rows and values, the meta rows.

Kept apart from `SqliteJournal` so that the storage format (what a journal file holds,
which plan it belongs to, and how a future version migrates it) reads in one place.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import structlog

from ..plan._model import Chunk
from ._errors import JournalError, JournalMismatchError
from ._model import ChunkRecord, ChunkStatus, JournalMeta

_log = structlog.get_logger("rerun_orchestrator.journal")

SCHEMA_VERSION = 1

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
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_status ON chunks(status, seq);
CREATE TABLE IF NOT EXISTS orphans (key TEXT PRIMARY KEY) WITHOUT ROWID;
"""

CHUNK_COLUMNS = (
    "key, region, namespace, namespace_source, group_id, job_id, first_day, last_day, "
    "start_date, end_date, data_time, days"
)
COLUMNS = (
    f"seq, {CHUNK_COLUMNS}, status, attempts, request_id, code, message, reason, "
    "instance_ids, attempt_started_at, updated_at"
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
    if "plan_name" not in rows:
        return None
    return JournalMeta(
        plan_name=str(rows["plan_name"]),
        plan_digest=str(rows.get("plan_digest", "")),
        created_at=float(rows.get("created_at", 0.0)),
        schema_version=int(rows.get("schema_version", SCHEMA_VERSION)),
        previous_digest=rows.get("previous_digest"),
    )


def write_meta(conn: sqlite3.Connection, meta: JournalMeta) -> None:
    values = {
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
    )


def connect(database: str, *, readonly: bool) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so batching is explicit.
    conn = sqlite3.connect(
        database, uri=readonly, isolation_level=None, check_same_thread=False, timeout=10.0
    )
    if not readonly:
        conn.executescript(SCHEMA)
    return conn


def init_meta(
    conn: sqlite3.Connection, path: Path, plan_name: str, plan_digest: str, now: float
) -> JournalMeta:
    meta = read_meta(conn)
    if meta is None:
        meta = JournalMeta(plan_name, plan_digest, now, SCHEMA_VERSION)
        write_meta(conn, meta)
        return meta
    if meta.schema_version > SCHEMA_VERSION:
        raise JournalError(
            f"journal {path} has schema {meta.schema_version}, written by a newer "
            f"rerun-orchestrator (this one reads up to {SCHEMA_VERSION}); upgrade it"
        )
    if meta.plan_name != plan_name:
        raise JournalMismatchError(str(path), meta.plan_name, plan_name)
    if meta.plan_digest != plan_digest:
        _log.info(
            "rerun.journal.plan_changed",
            journal=str(path),
            plan=plan_name,
            previous_digest=meta.plan_digest,
            digest=plan_digest,
        )
        meta = JournalMeta(
            plan_name, plan_digest, meta.created_at, SCHEMA_VERSION, meta.plan_digest
        )
        write_meta(conn, meta)
    return meta
