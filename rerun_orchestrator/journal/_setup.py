"""Making a database a journal: refuse what is not one, create, upgrade schemas 1 and 2,
and record the plans that run on it (refusing a change of a plan's zone)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from ._errors import JournalError
from ._instances import DAY_INSTANCES_SCHEMA
from ._job_facts import JOB_FACTS_TABLE
from ._model import JournalMeta, PlanEntry
from ._schema import INDEXES, KIND, SCHEMA, SCHEMA_VERSION, read_meta, write_meta


def _log_info(event: str, **fields: Any) -> None:
    from .._logs import get_logger  # noqa: PLC0415 - only when logging: `status` never loads it

    get_logger("rerun_orchestrator.journal").info(event, **fields)


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
    conn.executescript(JOB_FACTS_TABLE)
    # Additive (no schema bump): what each day's rerun instance did, kept by the watcher.
    conn.executescript(DAY_INSTANCES_SCHEMA)
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
    """Up to this schema, in place and in one transaction.

    1 → 2: each chunk becomes a record of the plan the journal names (its zone is unknown:
    schema 1 did not store it). 2 → 3: the ``job_facts`` table, created by `prepare`
    before (empty: the next pre-flight checks every job).
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        if meta.schema_version < 2:
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
    _log_info(
        "rerun.journal.migrated",
        journal=str(path),
        from_schema=meta.schema_version,
        to=SCHEMA_VERSION,
    )
    return upgraded


def adopt_plan(
    conn: sqlite3.Connection,
    path: Path,
    meta: JournalMeta,
    plan: PlanEntry,
    now: float,
) -> JournalMeta:
    """Record that `plan` runs on this journal now; refuse a change of its zone, or of the
    spelling of one of its locations, once the old one covered days.

    Raises:
        JournalError: the plan ran here before in another timezone and covered days
            there (their epochs were cut in that zone), or under a location spelled
            otherwise (only in case or spaces) that covered days.
    """
    row = conn.execute(
        "SELECT digest, timezone, locations FROM plans WHERE name = ?", (plan.name,)
    ).fetchone()
    if row is not None and row[2]:
        _refuse_respelled(conn, path, plan, [tuple(each) for each in json.loads(row[2])])
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
        _log_info(
            "rerun.journal.plan_changed",
            journal=str(path),
            plan=plan.name,
            previous_digest=row[0],
            digest=plan.digest,
        )
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO plans (name, digest, timezone, job_days, chunks, created_at, updated_at, "
        "locations) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
        "digest = excluded.digest, timezone = excluded.timezone, job_days = excluded.job_days, "
        "chunks = excluded.chunks, updated_at = excluded.updated_at, "
        "locations = excluded.locations",
        (
            plan.name,
            plan.digest,
            plan.timezone,
            plan.job_days,
            plan.chunks,
            now,
            now,
            json.dumps([list(location) for location in plan.locations]),
        ),
    )
    conn.execute("COMMIT")
    adopted = JournalMeta(plan.name, plan.digest, meta.created_at, SCHEMA_VERSION, previous)
    write_meta(conn, adopted)
    return adopted


def _refuse_respelled(
    conn: sqlite3.Connection, path: Path, plan: PlanEntry, before: list[tuple[Any, ...]]
) -> None:
    """A location the plan had, now spelled otherwise (case, spaces), that covered days."""

    def norm(location: tuple[Any, ...]) -> tuple[str, ...]:
        return tuple("" if part is None else str(part).strip().casefold() for part in location)

    now = {norm(location): location for location in plan.locations}
    for old in before:
        new = now.get(norm(old))
        if new is None or tuple(new) == tuple(old):
            continue
        covered = conn.execute(
            "SELECT COUNT(*) FROM chunks WHERE plan = ? AND region = ? AND namespace = ? "
            "AND namespace_source IS ? AND group_id = ? "
            "AND status IN ('in_flight', 'unknown', 'succeeded')",
            (plan.name, *old),
        ).fetchone()[0]
        if covered:
            raise JournalError(
                f"plan {plan.name!r} now names the location {'/'.join(map(str, new))!r}, "
                f"which it spelled {'/'.join(map(str, old))!r} when it covered {covered} "
                f"chunks on journal {path}. The ledger (like SchedulerX) takes them for two "
                "locations, so their days could be rerun twice: put the old spelling back, "
                "or, if the new one is really another location, give the plan another name"
            )


def read_plans(conn: sqlite3.Connection) -> list[PlanEntry]:
    """Every plan that ran on the journal, most recent first."""
    try:
        rows = conn.execute(
            "SELECT name, digest, timezone, job_days, chunks, rerun_generation, locations "
            "FROM plans ORDER BY updated_at DESC, name"
        ).fetchall()
    except sqlite3.OperationalError:
        return []  # schema 1, read-only: not upgraded yet
    return [
        PlanEntry(
            name,
            digest,
            zone,
            job_days,
            chunks,
            generation,
            tuple((r, n, s, g) for r, n, s, g in json.loads(locations or "[]")),
        )
        for name, digest, zone, job_days, chunks, generation, locations in rows
    ]
