"""The ledger at a million days: time to first call (fresh and on resume), writing the
ledger against the SQLite floor, and bytes of journal per day.

Prints ratios measured in one run (goals from the days-not-chunks issue):
- first call within 2 s of start, fresh and on resume, whatever the plan's size;
- writing every day's record within 1.5x the floor of `executemany` of the same rows into
  the same schema in one transaction;
- a journal within 2x the raw row data.

    .venv/bin/python bench/bench_ledger.py [--quick]
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import structlog
from _common import write_plan

from rerun_orchestrator.journal import ChunkRecord, ChunkStatus, SqliteJournal
from rerun_orchestrator.journal._schema import INDEXES, SCHEMA, UPSERT, record_row
from rerun_orchestrator.plan import Plan, load_plan
from rerun_orchestrator.plan._model import Rate
from rerun_orchestrator.run import RateLimiter, run_plan
from rerun_orchestrator.schedulerx import ApiResponse, AttemptResult, RerunJobParams, Verdict


class FirstCall:
    """A client that notes when the first RerunJob arrives, then ends the run."""

    def __init__(self) -> None:
        self.at: float | None = None
        self.scope: anyio.CancelScope | None = None

    async def rerun_job(self, params: RerunJobParams) -> AttemptResult:
        if self.at is None:
            self.at = time.perf_counter()
            assert self.scope is not None
            self.scope.cancel()
            await anyio.sleep_forever()
        return AttemptResult(
            Verdict.SUCCEEDED, "ok", ApiResponse(200, "R", 200, True, None), elapsed_ms=1.0
        )


async def time_to_first_call(plan: Plan, path: Path) -> float:
    client = FirstCall()
    started = time.perf_counter()
    journal = SqliteJournal.open(
        path,
        plan_name=plan.name,
        plan_digest=plan.digest,
        timezone=plan.timezone,
        job_days=plan.count_job_days(),
        chunks=plan.count_chunks(),
        synchronous="NORMAL",
    )
    try:
        with anyio.CancelScope() as scope:
            client.scope = scope
            await run_plan(
                plan, client=client, journal=journal, limiter=RateLimiter(Rate(1_000_000, 1))
            )
    finally:
        journal.close()
    assert client.at is not None
    return client.at - started


def floor_seconds(rows: list[tuple[object, ...]], path: Path) -> float:
    """`executemany` of the same rows into the same schema, one transaction, nothing else."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA + INDEXES)
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(UPSERT, rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def ledger_write_seconds(plan: Plan, records: list[ChunkRecord], path: Path) -> float:
    """The journal's own path for the same rows: the records staged and committed by the
    journal's writer (as outcomes are), in one round."""
    journal = SqliteJournal.open(
        path,
        plan_name=plan.name,
        plan_digest=plan.digest,
        timezone=plan.timezone,
        synchronous="NORMAL",
        batch_size=10**9,
    )
    try:
        started = time.perf_counter()
        writer = journal._writer  # the bench measures the writer itself
        assert writer is not None
        for record in records:
            writer.stage(record, mark=False)
        writer.commit()
        elapsed = time.perf_counter() - started
    finally:
        journal.close()
    return elapsed


def _records(plan: Plan, jobs: int) -> Iterator[ChunkRecord]:
    chunks_per_job = plan.targets[0].chunks_per_job
    for n, chunk in enumerate(plan.chunks()):
        if n >= jobs * chunks_per_job:
            return
        yield ChunkRecord(
            chunk,
            ChunkStatus.SUCCEEDED,
            attempts=1,
            request_id="3E5A6B2C-1D4F-4A8B-9C7D-0E1F2A3B4C5D",
            attempt_started_at=1.7e9,
            updated_at=1.7e9,
            plan=plan.name,
            timezone=plan.timezone,
        )


def raw_bytes(rows: list[tuple[object, ...]]) -> int:
    """The row data as text, the way a CSV would hold it."""
    return sum(len(str(v)) + 1 for row in rows for v in row if v is not None)


def main(quick: bool) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    jobs, days = (200, 500) if quick else (1000, 1000)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        plan = load_plan(
            write_plan(
                directory,
                "ledger",
                jobs=jobs,
                days=days,
                rate="1000/s",
                concurrency=8,
                max_attempts=6,
            )
        )
        total = plan.count_job_days()
        print(f"plan: {jobs} jobs x {days} days = {total:,} days, one day per chunk")

        fresh = anyio.run(time_to_first_call, plan, directory / "fresh.sqlite")
        print(f"first call, fresh journal: {fresh:.2f} s (goal <= 2 s: {fresh / 2:.2f}x)")

        done_jobs = jobs // 2
        records = list(_records(plan, done_jobs))
        rows = [record_row(record) for record in records]
        floor = floor_seconds(rows, directory / "floor.sqlite")
        ours = ledger_write_seconds(plan, records, directory / "resume.sqlite")
        del records
        print(
            f"writing {len(rows):,} day records: journal {ours:.2f} s, executemany floor "
            f"{floor:.2f} s: {ours / floor:.2f}x the floor (goal <= 1.5x)"
        )
        resume = anyio.run(time_to_first_call, plan, directory / "resume.sqlite")
        print(
            f"first call on resume, {done_jobs} of {jobs} jobs done: {resume:.2f} s "
            f"(goal <= 2 s: {resume / 2:.2f}x)"
        )
        size = sum(p.stat().st_size for p in directory.glob("resume.sqlite*"))
        raw = raw_bytes(rows)
        print(
            f"journal: {size / len(rows):.0f} bytes per day recorded; raw row data "
            f"{raw / len(rows):.0f} bytes: {size / raw:.2f}x (goal <= 2x); days never "
            "sent cost nothing"
        )


if __name__ == "__main__":
    main("--quick" in sys.argv)
