"""The record reads of `SqliteJournal`: one record, all of them in pages, by keys, counts.

A mixin, like `_sqlite_ledger`'s queries. Reads go through the read connection, which sees
what is committed; the writer's records (staged or just committed) take precedence, so a
read sees every write made, and a filtered or counted read commits staged writes first.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from ._model import ChunkRecord, ChunkStatus, PlanEntry
from ._schema import PAGE, filters, to_record
from ._setup import read_plans
from ._writer import GroupCommitWriter


class RecordReads:
    """Needs the journal's read connection and lock, its writer, and its proposals."""

    _columns: str
    _proposed: dict[str, ChunkRecord]
    _reader: sqlite3.Connection
    _read_lock: threading.Lock
    _writer: GroupCommitWriter | None
    _closed: bool

    def plans(self) -> list[PlanEntry]:
        """Every plan that ran on this journal, most recent first."""
        with self._read_lock:
            return read_plans(self._reader)

    def get(self, key: str) -> ChunkRecord | None:
        if (proposed := self._proposed.get(key)) is not None:
            return proposed
        if self._writer is not None and (held := self._writer.latest(key)) is not None:
            return held
        rows = self._read(f"SELECT {self._columns} FROM chunks WHERE key = ?", (key,))  # noqa: S608 (constants only)
        return to_record(rows[0]) if rows else None

    def records(
        self, statuses: Iterable[ChunkStatus] | None = None, *, plan_only: bool = False
    ) -> Iterator[ChunkRecord]:
        # Pages keyed by seq, each read whole before it is yielded, so the caller may
        # write to the journal while iterating without upsetting an open cursor.
        where, params = filters(statuses, plan_only=plan_only)
        if where is None:
            return
        sql = f"SELECT {self._columns} FROM chunks WHERE seq > ?{where} ORDER BY seq LIMIT {PAGE}"  # noqa: S608
        last = 0
        while True:
            self._commit_for_reads()
            rows = self._read(sql, (last, *params))
            if not rows:
                return
            for row in rows:
                yield to_record(row)
            last = rows[-1][0]

    def records_for(self, keys: Iterable[str]) -> Iterator[ChunkRecord | None]:
        """Records of `keys`, in that order (None for a key the journal lacks)."""
        writer = self._writer
        it = iter(keys)
        while batch := list(islice(it, 500)):
            marks = ",".join("?" * len(batch))
            read_at = writer.tickets if writer is not None else 0
            rows = self._read(f"SELECT {self._columns} FROM chunks WHERE key IN ({marks})", batch)  # noqa: S608
            found = {row[1]: row for row in rows}
            for key in batch:
                if writer is not None and (held := writer.latest(key)) is not None:
                    yield held
                elif (row := found.get(key)) is not None:
                    record = to_record(row)
                    if writer is not None:
                        # A run reads a stream's chunks, then marks them: spare that read.
                        writer.remember(record, read_at=read_at)
                    yield record
                else:
                    yield None

    def counts(self, *, plan_only: bool = False) -> dict[ChunkStatus, int]:
        self._commit_for_reads()
        where, _ = filters(None, plan_only=plan_only)
        sql = f"SELECT status, COUNT(*) FROM chunks WHERE 1{where} GROUP BY status"  # noqa: S608
        rows = self._read(sql, ())
        counts = dict.fromkeys(ChunkStatus, 0)
        counts.update({ChunkStatus(status): n for status, n in rows})
        return counts

    def orphans(self, limit: int | None = None) -> tuple[tuple[str, ...], int]:
        with self._read_lock:
            (total,) = self._reader.execute("SELECT COUNT(*) FROM orphans").fetchone()
            rows = self._reader.execute(
                "SELECT o.key FROM orphans o JOIN chunks c ON c.key = o.key ORDER BY c.seq LIMIT ?",
                (-1 if limit is None else limit,),
            ).fetchall()
        return tuple(key for (key,) in rows), int(total)

    def _read(self, sql: str, params: Iterable[Any]) -> list[Any]:
        with self._read_lock:
            return self._reader.execute(sql, tuple(params)).fetchall()

    def _commit_for_reads(self) -> None:
        # A filtered or counted read cannot overlay staged writes row by row: commit them
        # first (not in the hot path: runs read this way only before and after sending).
        if self._writer is not None and self._writer.dirty and not self._closed:
            self._writer.commit()
