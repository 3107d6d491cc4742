"""The ledger's queries of `SqliteJournal`: a job's records over a span of days, what a
finished job holds, proposals of chunks not written yet, generations, days per plan.

A mixin, so that `SqliteJournal` reads as the journal's lifecycle and state machine and
this file as what the ledger asks of SQLite (each query one indexed read).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import date
from typing import Any

from .._clock import Clock
from ..plan._model import Chunk
from ._model import ChunkRecord, ChunkStatus, JobIdentity
from ._schema import COLUMNS, JOB_RECORDS, SUCCEEDED_DAYS, to_record
from ._writer import GroupCommitWriter


class LedgerQueries:
    """Needs the journal's reader (`_read`), writer, clock and proposals."""

    _columns: str
    _proposed: dict[str, ChunkRecord]
    _writer: GroupCommitWriter | None
    _clock: Clock

    def _read(self, sql: str, params: Iterable[Any]) -> list[Any]:
        raise NotImplementedError

    def _writable(self) -> GroupCommitWriter:
        raise NotImplementedError

    def get(self, key: str) -> ChunkRecord | None:
        raise NotImplementedError

    def _commit_for_reads(self) -> None:
        raise NotImplementedError

    def job_records(self, job: JobIdentity, first: date, last: date) -> list[ChunkRecord]:
        """Every record of `job` holding a day of `first..last`, by first day (one read).

        The read and the staged records it is overlaid with are one view: a round that
        commits on the writer's thread while the read runs (FULL) takes its records out
        of the staged ones after the read's snapshot was made, so they would be in
        neither, and `mark_in_flight`'s check would miss them; then it reads again.
        """
        writer = self._writer
        if writer is not None and (kept := writer.job_records(job, first, last)) is not None:
            return kept  # the span was read before, and every write since laid over it
        sql = JOB_RECORDS.replace(COLUMNS, self._columns)
        params = (
            job.job_id,
            job.group_id,
            job.namespace,
            job.region,
            job.namespace_source,
            last.isoformat(),
            first.isoformat(),
        )
        while True:
            read_at = writer.read_mark if writer is not None else (0, 0)
            committed = writer.durable if writer is not None else 0
            found = {row[1]: to_record(row) for row in self._read(sql, params)}
            if writer is None:
                break
            job_id = job.job_id
            for record in writer.dirty_records():  # staged, not committed yet
                chunk = record.chunk
                if (
                    chunk.job_id == job_id  # cheap first: a mark scans a round's worth
                    and chunk.first_day <= last
                    and chunk.last_day >= first
                    and JobIdentity.of(chunk) == job
                ):
                    found[record.key] = record
            # A commit takes an fsync, a read microseconds: this rarely runs twice.
            if writer.durable == committed:
                break
        records = list(found.values())
        if len(records) > 1:  # usually: the chunk's own record, or none
            records.sort(key=lambda r: r.chunk.first_day)
        if writer is not None:
            writer.keep_job(job, first, last, records, read_at=read_at)
        return records

    def succeeded_days(
        self, job: JobIdentity, first: date, last: date, *, generation: int = 0
    ) -> list[tuple[str | None, int, int]] | None:
        """Per plan: days of `first..last` that succeeded records of `job` hold, and how
        many records those are, counted by SQLite without building a record; None while
        writes of that job are staged (then read `job_records`). A resume skips finished
        jobs with it."""
        if self._writer is not None and any(
            JobIdentity.of(r.chunk) == job for r in self._writer.dirty_records()
        ):
            return None
        lo, hi = first.isoformat(), last.isoformat()
        rows = self._read(
            SUCCEEDED_DAYS,
            (
                hi,
                lo,
                job.job_id,
                job.group_id,
                job.namespace,
                job.region,
                job.namespace_source,
                hi,
                lo,
                generation,
            ),
        )
        return [(plan, int(days), int(records)) for plan, days, records in rows]

    def propose(
        self, chunk: Chunk, *, plan: str | None, timezone: str | None, generation: int = 0
    ) -> ChunkRecord:
        """The record to send `chunk` with: the journal's if it has one (its attempts go
        on), else a new pending record held in memory until it is marked in flight."""
        existing = self._known(chunk)
        if existing is not None:
            return existing
        record = ChunkRecord(
            chunk,
            ChunkStatus.PENDING,
            updated_at=self._clock.wall(),
            plan=plan,
            timezone=timezone,
            generation=generation,
        )
        self._proposed[chunk.key] = record
        return record

    def _known(self, chunk: Chunk) -> ChunkRecord | None:
        """`get(chunk.key)`, from the job's records kept by the writer when it has them."""
        if (proposed := self._proposed.get(chunk.key)) is not None:
            return proposed
        writer = self._writer
        if writer is not None:
            known, record = writer.job_record(
                JobIdentity.of(chunk), chunk.first_day, chunk.last_day, chunk.key
            )
            if known:
                return record
        return self.get(chunk.key)

    def start_generation(self, plan_name: str, *, seen: int | None = None) -> int:
        """Begin a deliberate rerun of `plan_name`'s days (--rerun-succeeded): a generation
        above every record's, remembered so that a resumed rerun does not start another
        (`Journal.start_generation`: `seen`)."""

        def bump(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT rerun_generation FROM plans WHERE name = ?", (plan_name,))
            current = row.fetchone()
            if seen is not None and current is not None and int(current[0]) > seen:
                return int(current[0])
            (top,) = conn.execute("SELECT COALESCE(MAX(generation), 0) FROM chunks").fetchone()
            (known,) = conn.execute(
                "SELECT COALESCE(MAX(rerun_generation), 0) FROM plans"
            ).fetchone()
            generation = max(int(top), int(known)) + 1
            conn.execute(
                "UPDATE plans SET rerun_generation = ? WHERE name = ?", (generation, plan_name)
            )
            return generation

        return self._writable().transact(bump, chunks=False)

    def days_by_plan(self) -> list[tuple[str | None, ChunkStatus, int]]:
        self._commit_for_reads()
        rows = (
            self._read(
                "SELECT plan, status, SUM(days) FROM chunks GROUP BY plan, status ORDER BY plan", ()
            )
            if "AS plan" not in self._columns
            else self._read("SELECT NULL, status, SUM(days) FROM chunks GROUP BY status", ())
        )
        return [(plan, ChunkStatus(status), int(days)) for plan, status, days in rows]
