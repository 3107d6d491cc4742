"""What each day's rerun instance did: its id, status, start and end, as the watcher saw them.

A day of the ledger belongs to the record (chunk) that covered it; the instance that
RerunJob created for it is kept per (chunk key, day), so that a deliberate rerun (a new
generation, a new record) keeps its own instances beside the first's.

Statuses are the API's integers read through one table per API version (SchedulerX 2
numbers them otherwise than SchedulerX 3), into the contract's words.
"""

from __future__ import annotations

import enum
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._writer import GroupCommitWriter


class InstanceState(enum.StrEnum):
    """The contract's `instance_status` words."""

    WAITING = "waiting"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    REJECTED = "rejected"
    STOPPED = "stopped"
    UNKNOWN = "unknown"  # never seen in time, or pruned from the history before it ended

    @property
    def ended(self) -> bool:
        return self not in (InstanceState.WAITING, InstanceState.RUNNING)

    @property
    def retryable(self) -> bool:
        """What `--retry-failed` retries in place with RetryJobInstance."""
        return self in (InstanceState.FAILED, InstanceState.REJECTED)


# SchedulerX 2 (2019-04-30 API): 1 waiting, 3 running, 4 success, 5 failed, 9 rejected are
# documented; the others are the open-source worker's enum (0 unknown, 2 ready, 6 killed,
# 7 paused, 8 submitted, 10 accepted, 11 partial_failed, 99 removed).
SCHEDULERX2_STATUSES: Mapping[int, InstanceState] = {
    0: InstanceState.WAITING,
    1: InstanceState.WAITING,
    2: InstanceState.WAITING,
    3: InstanceState.RUNNING,
    4: InstanceState.SUCCESS,
    5: InstanceState.FAILED,
    6: InstanceState.STOPPED,
    7: InstanceState.WAITING,
    8: InstanceState.WAITING,
    9: InstanceState.REJECTED,
    10: InstanceState.WAITING,
    11: InstanceState.FAILED,
    99: InstanceState.STOPPED,
}
# SchedulerX 3 (2024-06-24 API) numbers them differently (8 is rejected there): another table
# when a client speaks it, from docs/schedulerx-api.md §8.


def instance_state(
    status: int, table: Mapping[int, InstanceState] = SCHEDULERX2_STATUSES
) -> InstanceState:
    """The contract's word for an API status; a number the table lacks is still running
    (never taken for an end nobody documented)."""
    return table.get(status, InstanceState.RUNNING)


@dataclass(frozen=True, slots=True)
class DayInstance:
    """One day's rerun instance as last seen. Times are the server's local strings."""

    chunk_key: str
    day: date
    job_id: int
    instance_id: int | None
    status: InstanceState
    start_time: str | None = None
    end_time: str | None = None
    reason: str | None = None  # why unknown, or what the last retry did
    updated_at: float = 0.0
    retries: int = 0  # RetryJobInstance calls accepted for it by this tool


DAY_INSTANCES_SCHEMA = """
CREATE TABLE IF NOT EXISTS day_instances (
    chunk_key TEXT NOT NULL,
    day TEXT NOT NULL,
    job_id INTEGER NOT NULL,
    instance_id INTEGER,
    status TEXT NOT NULL,
    start_time TEXT,
    end_time TEXT,
    reason TEXT,
    updated_at REAL NOT NULL,
    retries INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (chunk_key, day)
) WITHOUT ROWID;
"""
_COLUMNS = (
    "chunk_key, day, job_id, instance_id, status, start_time, end_time, reason, updated_at, retries"
)


def _row(item: DayInstance) -> tuple[object, ...]:
    return (
        item.chunk_key,
        item.day.isoformat(),
        item.job_id,
        item.instance_id,
        item.status.value,
        item.start_time,
        item.end_time,
        item.reason,
        item.updated_at,
        item.retries,
    )


def _item(row: tuple[object, ...]) -> DayInstance:
    key, day, job_id, instance_id, status, start, end, reason, updated, retries = row
    return DayInstance(
        str(key),
        date.fromisoformat(str(day)),
        int(str(job_id)),
        None if instance_id is None else int(str(instance_id)),
        InstanceState(str(status)),
        None if start is None else str(start),
        None if end is None else str(end),
        None if reason is None else str(reason),
        float(str(updated)),
        int(str(retries)),
    )


def write_day_instances(conn: sqlite3.Connection, items: Iterable[DayInstance]) -> None:
    """Upsert (inside the caller's transaction)."""
    conn.executemany(
        f"INSERT OR REPLACE INTO day_instances ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",  # noqa: S608
        [_row(item) for item in items],
    )


def read_day_instances(
    conn: sqlite3.Connection, keys: Iterable[str]
) -> dict[tuple[str, date], DayInstance]:
    """The instances of the records `keys`, by (chunk key, day); empty on a journal that
    predates the table (opened read-only, not upgraded)."""
    out: dict[tuple[str, date], DayInstance] = {}
    wanted = list(dict.fromkeys(keys))
    try:
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            for row in conn.execute(
                f"SELECT {_COLUMNS} FROM day_instances WHERE chunk_key IN ({marks})",  # noqa: S608
                part,
            ):
                item = _item(row)
                out[(item.chunk_key, item.day)] = item
    except sqlite3.OperationalError:
        return {}
    return out


def read_all_day_instances(conn: sqlite3.Connection) -> list[DayInstance]:
    try:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM day_instances ORDER BY job_id, day, chunk_key"  # noqa: S608
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    return [_item(row) for row in rows]


class SqliteDayInstances:
    """`SqliteJournal`'s day-instance methods (needs its reader, read lock and writer)."""

    _reader: sqlite3.Connection
    _read_lock: threading.Lock

    def _writable(self) -> GroupCommitWriter:
        raise NotImplementedError

    def record_day_instances(self, items: Iterable[DayInstance]) -> None:
        """Durable when it returns: SchedulerX forgets old instances, we must not."""
        rows = list(items)
        if rows:
            self._writable().transact(lambda conn: write_day_instances(conn, rows), chunks=False)

    def day_instances(self, keys: Iterable[str]) -> dict[tuple[str, date], DayInstance]:
        with self._read_lock:
            return read_day_instances(self._reader, keys)

    def all_day_instances(self) -> list[DayInstance]:
        with self._read_lock:
            return read_all_day_instances(self._reader)


class MemoryDayInstances:
    """`MemoryJournal`'s day-instance methods."""

    _day_instances: dict[tuple[str, date], DayInstance]

    def record_day_instances(self, items: Iterable[DayInstance]) -> None:
        for item in items:
            self._day_instances[(item.chunk_key, item.day)] = item

    def day_instances(self, keys: Iterable[str]) -> dict[tuple[str, date], DayInstance]:
        wanted = set(keys)
        return {k: v for k, v in self._day_instances.items() if k[0] in wanted}

    def all_day_instances(self) -> list[DayInstance]:
        return sorted(self._day_instances.values(), key=lambda i: (i.job_id, i.day, i.chunk_key))
