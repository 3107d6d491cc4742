"""The journal's PostgreSQL schema: migrations with a version table, and the row mapping.

Every table is prefixed ``rerun_`` so that a journal can live in a database (or schema,
through ``search_path``) that holds other things. ``rerun_schema_version`` lists the
migrations applied; `migrate` applies the missing ones in one transaction, under an
advisory lock, so that replicas starting together never race on the DDL, and refuses a
database that a newer release migrated further.

Columns mirror the SQLite journal's (`_schema`), with PostgreSQL types: days are `date`,
the server's code is `jsonb` (so "Throttling.User" stays text and 500 stays a number).
Leases, the shared quota and group slots have tables of their own (`_lease`,
`run._shared_pacer`, `_pg_groups`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ..plan._model import Chunk
from ._errors import JournalError
from ._model import ChunkRecord, ChunkStatus
from ._pg_connect import SETUP_IDLE_MS, bounded_transaction

KIND = "rerun-orchestrator journal"
# Each migration is applied once, in order; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (
    # 1: the ledger, its plans, orphans, and the run's meta rows.
    """
    CREATE TABLE rerun_meta (name text PRIMARY KEY, value text);
    CREATE TABLE rerun_plans (
        name text PRIMARY KEY,
        digest text NOT NULL,
        timezone text,
        job_days bigint NOT NULL DEFAULT 0,
        chunks bigint NOT NULL DEFAULT 0,
        created_at double precision NOT NULL,
        updated_at double precision NOT NULL,
        rerun_generation integer NOT NULL DEFAULT 0,
        locations jsonb NOT NULL DEFAULT '[]'
    );
    CREATE TABLE rerun_chunks (
        seq bigserial PRIMARY KEY,
        key text NOT NULL UNIQUE,
        region text NOT NULL,
        namespace text NOT NULL,
        namespace_source text,
        group_id text NOT NULL,
        job_id bigint NOT NULL,
        first_day date NOT NULL,
        last_day date NOT NULL,
        start_date bigint NOT NULL,
        end_date bigint NOT NULL,
        data_time text NOT NULL,
        days integer NOT NULL,
        status text NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        request_id text,
        code jsonb,
        message text,
        reason text,
        instance_ids jsonb NOT NULL DEFAULT '[]',
        attempt_started_at double precision,
        created_at double precision NOT NULL,
        updated_at double precision NOT NULL,
        plan text,
        timezone text,
        generation integer NOT NULL DEFAULT 0,
        owner text  -- the replica that wrote it last (summaries say who did what)
    );
    CREATE INDEX rerun_chunks_status ON rerun_chunks (status, seq);
    CREATE INDEX rerun_chunks_job ON rerun_chunks (job_id, group_id, namespace, region, first_day);
    CREATE TABLE rerun_orphans (key text PRIMARY KEY);
    """,
    # 2: leases on jobs (`_lease`) and the account quota shared by every replica.
    """
    CREATE TABLE rerun_leases (
        job text PRIMARY KEY,
        owner text NOT NULL,
        epoch bigint NOT NULL,
        expires_at timestamptz NOT NULL
    );
    CREATE TABLE rerun_quota (
        account text NOT NULL,
        api text NOT NULL,
        tat timestamptz NOT NULL DEFAULT now(),
        paused_until timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (account, api)
    );
    """,
    # 3: what each day's rerun instance did (the watcher's record).
    """
    CREATE TABLE rerun_day_instances (
        chunk_key text NOT NULL,
        day date NOT NULL,
        job_id bigint NOT NULL,
        instance_id bigint,
        status text NOT NULL,
        start_time text,
        end_time text,
        reason text,
        updated_at double precision NOT NULL,
        retries integer NOT NULL DEFAULT 0,
        PRIMARY KEY (chunk_key, day)
    );
    """,
    # 4: the pre-flight's job facts shared by every replica (`_pg_job_facts`); the day
    # instances still waiting or running found by job without a scan (global caps); the
    # shared pacer's adaptive rate (`run._shared_pacer`): the CUBIC curve's W_max and
    # the time of its last cut, NULL until the first throttle.
    """
    CREATE TABLE rerun_job_facts (
        region text NOT NULL,
        namespace text NOT NULL,
        namespace_source text NOT NULL DEFAULT '',
        group_id text NOT NULL,
        job_id bigint NOT NULL,
        name text NOT NULL,
        enabled boolean NOT NULL,
        max_concurrency integer NOT NULL,
        time_type integer,
        expression text,
        calendar text,
        data_offset integer,
        professional boolean,
        checked_at double precision NOT NULL,
        PRIMARY KEY (region, namespace, namespace_source, group_id, job_id)
    );
    CREATE INDEX rerun_day_instances_active ON rerun_day_instances (job_id, chunk_key)
        WHERE status IN ('waiting', 'running');
    ALTER TABLE rerun_quota ADD COLUMN w_max double precision,
        ADD COLUMN cut_at timestamptz;
    """,
    # 5: a group's cap across replicas (`_pg_groups`): the slots replicas took for chunks
    # on their way to RerunJob, and the group's accepted records found without a scan.
    """
    CREATE TABLE rerun_group_slots (
        token text PRIMARY KEY,
        grp text NOT NULL,
        owner text NOT NULL,
        days integer NOT NULL,
        taken_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX rerun_group_slots_grp ON rerun_group_slots (grp);
    CREATE INDEX rerun_chunks_group_accepted
        ON rerun_chunks (group_id, namespace, region, attempt_started_at)
        WHERE status = 'succeeded';
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
_MIGRATION_LOCK = 0x7265_7275_6E5F_6A  # pg_advisory_xact_lock key: "rerun_j"

CHUNK_COLUMNS = (
    "key, region, namespace, namespace_source, group_id, job_id, first_day, last_day, "
    "start_date, end_date, data_time, days"
)
COLUMNS = (
    f"seq, {CHUNK_COLUMNS}, status, attempts, request_id, code, message, reason, "
    "instance_ids, attempt_started_at, updated_at, plan, timezone, generation"
)
UPSERT = (
    f"INSERT INTO rerun_chunks ({CHUNK_COLUMNS}, status, attempts, request_id, code, "  # noqa: S608
    "message, reason, instance_ids, attempt_started_at, created_at, updated_at, plan, "
    "timezone, generation, owner) VALUES (" + ", ".join(["%s"] * 26) + ") "
    "ON CONFLICT (key) DO UPDATE SET status = excluded.status, "
    "attempts = excluded.attempts, request_id = excluded.request_id, code = excluded.code, "
    "message = excluded.message, reason = excluded.reason, "
    "instance_ids = excluded.instance_ids, attempt_started_at = excluded.attempt_started_at, "
    "updated_at = excluded.updated_at, plan = excluded.plan, timezone = excluded.timezone, "
    "generation = excluded.generation, owner = excluded.owner"
)
INSERT_PENDING = (
    f"INSERT INTO rerun_chunks ({CHUNK_COLUMNS}, status, created_at, updated_at) "  # noqa: S608
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'pending', %s, %s) "
    "ON CONFLICT (key) DO NOTHING"
)
# A job's records that touch a span of days (served by rerun_chunks_job).
JOB_WHERE = (
    "job_id = %s AND group_id = %s AND namespace = %s AND region = %s "
    "AND namespace_source IS NOT DISTINCT FROM %s AND first_day <= %s AND last_day >= %s"
)
JOB_RECORDS = f"SELECT {COLUMNS} FROM rerun_chunks WHERE {JOB_WHERE} ORDER BY first_day, seq"  # noqa: S608
JOB_RECORDS_OWNER = JOB_RECORDS.replace(" FROM", ", owner FROM", 1)
SUCCEEDED_DAYS = (
    "SELECT plan, SUM(LEAST(last_day, %s) - GREATEST(first_day, %s) + 1), COUNT(*) "  # noqa: S608
    f"FROM rerun_chunks WHERE {JOB_WHERE} AND status = 'succeeded' AND generation >= %s "
    "GROUP BY plan"
)


def migrate(conn: psycopg.Connection[Any], where: str) -> bool:
    """Bring the database to `SCHEMA_VERSION`; True if it held no journal before.

    Raises:
        JournalError: a newer release migrated it further, or it holds a `rerun_meta`
            table of something else.
    """
    with bounded_transaction(conn, SETUP_IDLE_MS):
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS rerun_schema_version ("
            "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM rerun_schema_version").fetchone()
        current = int(row[0]) if row else 0
        if current > SCHEMA_VERSION:
            raise JournalError(
                f"journal {where} has schema {current}, written by a newer rerun-orchestrator "
                f"(this one reads up to {SCHEMA_VERSION}); upgrade it"
            )
        if current == 0 and _table_exists(conn, "rerun_meta"):
            raise JournalError(
                f"{where} holds a table rerun_meta that is not a rerun-orchestrator journal's; "
                "use another database or schema (search_path)"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            conn.execute(MIGRATIONS[version - 1].encode())
            conn.execute("INSERT INTO rerun_schema_version (version) VALUES (%s)", (version,))
        if current == 0:
            conn.execute("INSERT INTO rerun_meta VALUES ('kind', %s)", (KIND,))
        return current == 0


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The schema a database's journal has, 0 if it holds none."""
    if not _table_exists(conn, "rerun_schema_version"):
        return 0
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM rerun_schema_version").fetchone()
    return int(row[0]) if row else 0


def _table_exists(conn: psycopg.Connection[Any], name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])


def chunk_row(chunk: Chunk) -> tuple[Any, ...]:
    return (
        chunk.key,
        chunk.region,
        chunk.namespace,
        chunk.namespace_source,
        chunk.group_id,
        chunk.job_id,
        chunk.first_day,
        chunk.last_day,
        chunk.start_date,
        chunk.end_date,
        chunk.data_time,
        chunk.days,
    )


def record_row(record: ChunkRecord, owner: str | None) -> tuple[Any, ...]:
    """The values of `UPSERT` for `record`."""
    now = record.updated_at if record.updated_at is not None else 0.0
    return (
        *chunk_row(record.chunk),
        record.status.value,
        record.attempts,
        record.request_id,
        None if record.code is None else Jsonb(record.code),
        record.message,
        record.reason,
        Jsonb(list(record.instance_ids)),
        record.attempt_started_at,
        now,
        now,
        record.plan,
        record.timezone,
        record.generation,
        owner,
    )


def to_record(row: Sequence[Any]) -> ChunkRecord:
    chunk = Chunk(
        key=row[1],
        region=row[2],
        namespace=row[3],
        namespace_source=row[4],
        group_id=row[5],
        job_id=int(row[6]),
        first_day=row[7],
        last_day=row[8],
        start_date=int(row[9]),
        end_date=int(row[10]),
        data_time=row[11],
        days=int(row[12]),
    )
    code = row[16]
    return ChunkRecord(
        chunk=chunk,
        status=ChunkStatus(row[13]),
        attempts=int(row[14]),
        request_id=row[15],
        code=code if isinstance(code, str | int) and not isinstance(code, bool) else None,
        message=row[17],
        reason=row[18],
        instance_ids=tuple(int(i) for i in row[19]),
        attempt_started_at=row[20],
        updated_at=row[21],
        plan=row[22],
        timezone=row[23],
        generation=int(row[24]),
    )
