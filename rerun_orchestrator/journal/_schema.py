"""The journal's SQLite schema: tables, the mapping between rows and values, the meta rows.

Kept apart from `SqliteJournal` so that the storage format (what a journal file holds,
which plans wrote it, and how an older version migrates) reads in one place.

Schema 2 (this release): every chunk row also names the plan that wrote it, the zone its
days were cut in and its generation, and is indexed by job and first day, so that the
records touching a job's days are one indexed range read. A `plans` table remembers every
plan that ran on the journal. Schema 1 (the first release) is upgraded in place when a
run opens it (`migrate`): its chunks become records of the plan it names.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

import structlog

from ..plan._model import Chunk
from ._errors import JournalError
from ._model import ChunkRecord, ChunkStatus, JournalMeta, PlanEntry

_log = structlog.get_logger("rerun_orchestrator.journal")

SCHEMA_VERSION = 2
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
    rerun_generation INTEGER NOT NULL DEFAULT 0
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


SQLITE_HEADER = b"SQLite format 3\x00"


def check_existing(path: Path) -> bool:
    """Whether `path` is an existing journal (True) or free for a new one (False).

    A journal is never silently new: any file that is not one is refused, and so is a
    missing file whose write-ahead log is still there (the journal's state may be in it).

    Raises:
        JournalError: `path` exists and is not a journal, or only its -wal does.
    """
    what_to_do = (
        "pass --journal with the path of the journal, or a path where no file exists "
        "to start a new one"
    )
    if not path.exists():
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise JournalError(
                f"{path} is missing but its write-ahead log {wal.name} is there: the "
                "journal was deleted or moved, and part of its state is in that log. "
                f"Put the journal back, or remove {wal} on purpose to start anew"
            )
        return False
    if not path.is_file():
        raise JournalError(f"{path} is not a file; {what_to_do}")
    with path.open("rb") as file:
        header = file.read(len(SQLITE_HEADER))
    if not header:
        raise JournalError(
            f"{path} is empty, not a journal (a journal is never started silently in place "
            f"of an existing file); remove it if it is not needed, or {what_to_do}"
        )
    if header != SQLITE_HEADER:
        raise JournalError(f"{path} is not a journal (not an SQLite file); {what_to_do}")
    return True


def connect(database: str, *, readonly: bool) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so batching is explicit.
    return sqlite3.connect(
        database, uri=readonly, isolation_level=None, check_same_thread=False, timeout=10.0
    )


def prepare(conn: sqlite3.Connection, path: Path, *, existing: bool, now: float) -> JournalMeta:
    """Make `conn`'s database a journal of this schema: create it, or check and upgrade it.

    Raises:
        JournalError: an existing database that is not a journal, or a newer schema.
    """
    meta = read_meta(conn) if existing else None
    if existing and meta is None:
        raise JournalError(
            f"{path} is an SQLite database but not a rerun-orchestrator journal; "
            "pass --journal with another path"
        )
    if meta is not None and meta.schema_version > SCHEMA_VERSION:
        raise JournalError(
            f"journal {path} has schema {meta.schema_version}, written by a newer "
            f"rerun-orchestrator (this one reads up to {SCHEMA_VERSION}); upgrade it"
        )
    conn.executescript(SCHEMA)
    if meta is None:
        meta = JournalMeta("", "", now, SCHEMA_VERSION)
        conn.executescript(INDEXES)
        write_meta(conn, meta)
        return meta
    if meta.schema_version < SCHEMA_VERSION:
        meta = migrate(conn, path, meta, now)
    conn.executescript(INDEXES)
    return meta


def migrate(conn: sqlite3.Connection, path: Path, meta: JournalMeta, now: float) -> JournalMeta:
    """Schema 1 → 2, in place and in one transaction: each chunk becomes a record of the
    plan the journal names (its zone is unknown: schema 1 did not store it)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("ALTER TABLE chunks ADD COLUMN plan TEXT")
        conn.execute("ALTER TABLE chunks ADD COLUMN timezone TEXT")
        conn.execute("ALTER TABLE chunks ADD COLUMN generation INTEGER NOT NULL DEFAULT 0")
        conn.execute("UPDATE chunks SET plan = ?", (meta.plan_name,))
        conn.execute("DELETE FROM orphans")  # chunks now stand for their days, plan or not
        upgraded = JournalMeta(
            meta.plan_name, meta.plan_digest, meta.created_at, SCHEMA_VERSION, meta.previous_digest
        )
        values = {"kind": KIND, "schema_version": SCHEMA_VERSION}
        conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.executescript(INDEXES)
    conn.execute(
        "INSERT OR IGNORE INTO plans (name, digest, timezone, created_at, updated_at) "
        "VALUES (?, ?, NULL, ?, ?)",
        (meta.plan_name, meta.plan_digest, meta.created_at, now),
    )
    _log.info("rerun.journal.migrated", journal=str(path), from_schema=1, to=SCHEMA_VERSION)
    return upgraded


def adopt_plan(
    conn: sqlite3.Connection,
    path: Path,
    meta: JournalMeta,
    plan: PlanEntry,
    now: float,
) -> JournalMeta:
    """Record that `plan` runs on this journal now; refuse a change of its zone.

    Raises:
        JournalError: the plan ran here before in another timezone and covered days
            there (their epochs were cut in that zone).
    """
    row = conn.execute("SELECT digest, timezone FROM plans WHERE name = ?", (plan.name,)).fetchone()
    if row is not None and row[1] is not None and row[1] != plan.timezone:
        covered = conn.execute(
            "SELECT COUNT(*) FROM chunks WHERE plan = ? AND timezone = ? "
            "AND status IN ('in_flight', 'unknown', 'succeeded')",
            (plan.name, row[1]),
        ).fetchone()[0]
        if covered:
            raise JournalError(
                f"plan {plan.name!r} ran on journal {path} in timezone {row[1]} and "
                f"{covered} of its chunks were sent in that zone; its timezone is now "
                f"{plan.timezone}. Days are cut in the plan's zone, so the two cannot mix: "
                f"put the timezone back, or give the plan another name (the days covered "
                "in the old zone stay covered for the jobs they belong to)"
            )
    previous = meta.previous_digest if meta.plan_name == plan.name else None
    if row is not None and row[0] != plan.digest:
        previous = row[0]
        _log.info(
            "rerun.journal.plan_changed",
            journal=str(path),
            plan=plan.name,
            previous_digest=row[0],
            digest=plan.digest,
        )
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO plans (name, digest, timezone, job_days, chunks, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET digest = excluded.digest, "
        "timezone = excluded.timezone, job_days = excluded.job_days, chunks = excluded.chunks, "
        "updated_at = excluded.updated_at",
        (plan.name, plan.digest, plan.timezone, plan.job_days, plan.chunks, now, now),
    )
    conn.execute("COMMIT")
    adopted = JournalMeta(plan.name, plan.digest, meta.created_at, SCHEMA_VERSION, previous)
    write_meta(conn, adopted)
    return adopted


def read_plans(conn: sqlite3.Connection) -> list[PlanEntry]:
    """Every plan that ran on the journal, most recent first."""
    try:
        rows = conn.execute(
            "SELECT name, digest, timezone, job_days, chunks, rerun_generation FROM plans "
            "ORDER BY updated_at DESC, name"
        ).fetchall()
    except sqlite3.OperationalError:
        return []  # schema 1, read-only: not upgraded yet
    return [PlanEntry(*row) for row in rows]


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
