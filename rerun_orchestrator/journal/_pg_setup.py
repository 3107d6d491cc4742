"""Recording the plans that run on a PostgreSQL journal, as `_setup` does for SQLite: a
plan's zone, or the spelling of one of its locations, may not change once the old one
covered days. Done under an advisory lock on the plan's name, so that replicas starting
together adopt it once."""

from __future__ import annotations

from typing import Any

import psycopg
import structlog
from psycopg.types.json import Jsonb

from ._errors import JournalError
from ._model import JournalMeta, PlanEntry
from ._pg_connect import SETUP_IDLE_MS, bounded_transaction

_log = structlog.get_logger("rerun_orchestrator.journal")

_COVERING = "status IN ('in_flight', 'unknown', 'succeeded')"


def adopt_plan(
    conn: psycopg.Connection[Any], where: str, plan: PlanEntry, now: float
) -> JournalMeta:
    """Record that `plan` runs on this journal now; returns the journal's meta for it.

    Raises:
        JournalError: the plan's timezone, or the spelling of one of its locations,
            changed after the old one covered days.
    """
    with bounded_transaction(conn, SETUP_IDLE_MS):
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 1))", (plan.name,))
        row = conn.execute(
            "SELECT digest, timezone, locations FROM rerun_plans WHERE name = %s", (plan.name,)
        ).fetchone()
        if row is not None and row[2]:
            _refuse_respelled(conn, where, plan, [tuple(each) for each in row[2]])
        if row is not None and row[1] is not None and row[1] != plan.timezone:
            covered = _count(
                conn,
                f"plan = %s AND timezone = %s AND {_COVERING}",
                (plan.name, row[1]),
            )
            if covered:
                raise JournalError(
                    f"plan {plan.name!r} ran on journal {where} in timezone {row[1]} and "
                    f"{covered} of its chunks were sent in that zone; its timezone is now "
                    f"{plan.timezone}. Days are cut in the plan's zone, so the two cannot "
                    "mix: put the timezone back, or give the plan another name"
                )
        previous = None
        if row is not None and row[0] != plan.digest:
            previous = row[0]
            _log.info(
                "rerun.journal.plan_changed",
                journal=where,
                plan=plan.name,
                previous_digest=row[0],
                digest=plan.digest,
            )
        conn.execute(
            "INSERT INTO rerun_plans (name, digest, timezone, job_days, chunks, created_at, "
            "updated_at, locations) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET digest = excluded.digest, "
            "timezone = excluded.timezone, job_days = excluded.job_days, "
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
                Jsonb([list(location) for location in plan.locations]),
            ),
        )
        conn.execute(
            "INSERT INTO rerun_meta VALUES ('created_at', %s) ON CONFLICT DO NOTHING", (str(now),)
        )
    return JournalMeta(plan.name, plan.digest, created_at(conn), _version(conn), previous)


def read_meta(conn: psycopg.Connection[Any]) -> JournalMeta:
    """The journal's meta as a reader sees it: the plan that ran last."""
    plans = read_plans(conn)
    last = plans[0] if plans else PlanEntry("", "", None)
    return JournalMeta(last.name, last.digest, created_at(conn), _version(conn))


def read_plans(conn: psycopg.Connection[Any]) -> list[PlanEntry]:
    """Every plan that ran on the journal, most recent first."""
    rows = conn.execute(
        "SELECT name, digest, timezone, job_days, chunks, rerun_generation, locations "
        "FROM rerun_plans ORDER BY updated_at DESC, name"
    ).fetchall()
    return [
        PlanEntry(
            name,
            digest,
            zone,
            int(job_days),
            int(chunks),
            int(generation),
            tuple((r, n, s, g) for r, n, s, g in (locations or [])),
        )
        for name, digest, zone, job_days, chunks, generation, locations in rows
    ]


def created_at(conn: psycopg.Connection[Any]) -> float:
    row = conn.execute("SELECT value FROM rerun_meta WHERE name = 'created_at'").fetchone()
    return float(row[0]) if row else 0.0


def _version(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM rerun_schema_version").fetchone()
    return int(row[0]) if row else 0


def _count(conn: psycopg.Connection[Any], where: str, params: tuple[Any, ...]) -> int:
    row = conn.execute(f"SELECT COUNT(*) FROM rerun_chunks WHERE {where}", params).fetchone()  # noqa: S608 (constants only)
    return int(row[0]) if row else 0


def _refuse_respelled(
    conn: psycopg.Connection[Any], where: str, plan: PlanEntry, before: list[tuple[Any, ...]]
) -> None:
    def norm(location: tuple[Any, ...]) -> tuple[str, ...]:
        return tuple("" if part is None else str(part).strip().casefold() for part in location)

    now = {norm(location): location for location in plan.locations}
    for old in before:
        new = now.get(norm(old))
        if new is None or tuple(new) == tuple(old):
            continue
        covered = _count(
            conn,
            "plan = %s AND region = %s AND namespace = %s AND namespace_source IS NOT "
            f"DISTINCT FROM %s AND group_id = %s AND {_COVERING}",
            (plan.name, *old),
        )
        if covered:
            raise JournalError(
                f"plan {plan.name!r} now names the location {'/'.join(map(str, new))!r}, "
                f"which it spelled {'/'.join(map(str, old))!r} when it covered {covered} "
                f"chunks on journal {where}. The ledger (like SchedulerX) takes them for two "
                "locations, so their days could be rerun twice: put the old spelling back, "
                "or, if the new one is really another location, give the plan another name"
            )


__all__ = ["adopt_plan", "read_meta", "read_plans"]
