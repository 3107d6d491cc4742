"""What each day's rerun instance did, kept in PostgreSQL (the watcher's table).

The same values as `_instances.py` keeps in SQLite, upserted by (chunk key, day), so that
any replica (or `status --journal URL` on any machine) sees what the watcher recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

from ._instances import DayInstance, InstanceState
from ._pg_connect import bounded_transaction, execute_rows

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")

_COLUMNS = (
    "chunk_key, day, job_id, instance_id, status, start_time, end_time, reason, updated_at, retries"
)
_UPSERT = (
    f"INSERT INTO rerun_day_instances ({_COLUMNS}) "  # noqa: S608 - constant column list
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (chunk_key, day) DO UPDATE SET "
    "job_id = EXCLUDED.job_id, instance_id = EXCLUDED.instance_id, status = EXCLUDED.status, "
    "start_time = EXCLUDED.start_time, end_time = EXCLUDED.end_time, "
    "reason = EXCLUDED.reason, updated_at = EXCLUDED.updated_at, retries = EXCLUDED.retries "
    # a replica that wakes from a pause never puts back what it saw before it
    "WHERE rerun_day_instances.updated_at <= EXCLUDED.updated_at"
)


def _row(item: DayInstance) -> tuple[object, ...]:
    return (
        item.chunk_key,
        item.day,
        item.job_id,
        item.instance_id,
        item.status.value,
        item.start_time,
        item.end_time,
        item.reason,
        item.updated_at,
        item.retries,
    )


def _item(row: tuple[Any, ...]) -> DayInstance:
    key, day, job_id, instance_id, status, start, end, reason, updated, retries = row
    return DayInstance(
        key, day, job_id, instance_id, InstanceState(status), start, end, reason, updated, retries
    )


class PostgresDayInstances:
    """`PostgresJournal`'s day-instance methods (needs its `_retry` and write check)."""

    _idle_ms: int

    def _retry(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        raise NotImplementedError

    def _check_writable(self) -> None:
        raise NotImplementedError

    def record_day_instances(self, items: Iterable[DayInstance]) -> None:
        """Durable when it returns: SchedulerX forgets old instances, we must not."""
        rows = [_row(item) for item in items]
        if not rows:
            return
        self._check_writable()

        def write(conn: psycopg.Connection[Any]) -> None:
            with bounded_transaction(conn, self._idle_ms), conn.cursor() as cursor:
                execute_rows(cursor, _UPSERT.encode(), rows)

        self._retry(write)

    def day_instances(self, keys: Iterable[str]) -> dict[tuple[str, date], DayInstance]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}

        def read(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
            return conn.execute(
                f"SELECT {_COLUMNS} FROM rerun_day_instances "  # noqa: S608
                "WHERE chunk_key = ANY(%s)".encode(),
                (wanted,),
            ).fetchall()

        items = (_item(row) for row in self._retry(read))
        return {(item.chunk_key, item.day): item for item in items}

    def all_day_instances(self) -> list[DayInstance]:
        def read(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
            return conn.execute(
                f"SELECT {_COLUMNS} FROM rerun_day_instances "  # noqa: S608
                "ORDER BY job_id, day, chunk_key".encode()
            ).fetchall()

        return [_item(row) for row in self._retry(read)]
