"""The SQLite journal answers a job's records from what it read and wrote since (its job
cache): after any sequence of proposals, marks, outcomes and syncs, every answer is the
records a fresh read would give, and the in-flight mark still refuses a covered day."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rerun_orchestrator.journal import ChunkStatus, DayCoveredError, SqliteJournal
from rerun_orchestrator.journal._model import ChunkRecord, JobIdentity

D0 = date(2024, 3, 1)
OUTCOMES = [ChunkStatus.SUCCEEDED, ChunkStatus.FAILED, ChunkStatus.PENDING, ChunkStatus.UNKNOWN]

steps = st.lists(
    st.tuples(
        st.sampled_from(["send", "ask", "sync"]),
        st.integers(1, 2),  # job
        st.integers(0, 9),  # first day
        st.integers(1, 4),  # days
        st.sampled_from(OUTCOMES),
    ),
    min_size=1,
    max_size=25,
)


def _fresh(path: Path, job: JobIdentity, first: date, last: date) -> list[tuple[str, str]]:
    """What another connection reads once everything is committed."""
    reader = SqliteJournal.open_readonly(path)
    try:
        return [(r.key, str(r.status)) for r in reader.job_records(job, first, last)]
    finally:
        reader.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps)
def test_the_job_cache_answers_as_a_fresh_read(tmp_path_factory, chunk, steps) -> None:
    path = tmp_path_factory.mktemp("cache") / "j.sqlite"
    journal = SqliteJournal.open(path, plan_name="p", plan_digest="d")
    model: dict[str, ChunkRecord] = {}

    async def play() -> None:
        for action, job_id, start, days, outcome in steps:
            c = chunk(job_id, D0 + timedelta(days=start), days)
            job = JobIdentity.of(c)
            first, last = c.first_day, c.last_day
            if action == "sync":  # plan chunks inserted pending, outside the writer's stage
                journal.sync([c])
                model.setdefault(c.key, journal.get(c.key))  # type: ignore[arg-type]
            elif action == "send":
                record = journal.propose(c, plan="p", timezone="Asia/Shanghai")
                if record.status not in (ChunkStatus.PENDING, ChunkStatus.FAILED):
                    continue
                try:
                    model[c.key] = await journal.mark_in_flight(c.key, 1.0)
                except DayCoveredError:
                    covering = [
                        r
                        for r in model.values()
                        if r.key != c.key
                        and JobIdentity.of(r.chunk) == job
                        and r.chunk.first_day <= last
                        and r.chunk.last_day >= first
                        and r.covers
                    ]
                    assert covering, "refused without a covering record"
                    continue
                model[c.key] = journal.record_outcome(c.key, outcome, request_id="R")
            # Asked over the chunk's days and over the job's whole span (both paths).
            for lo, hi in ((first, last), (D0, D0 + timedelta(days=20))):
                expected = sorted(
                    (
                        r
                        for r in model.values()
                        if JobIdentity.of(r.chunk) == job
                        and r.chunk.first_day <= hi
                        and r.chunk.last_day >= lo
                    ),
                    key=lambda r: r.chunk.first_day,
                )
                got = journal.job_records(job, lo, hi)
                assert sorted((r.key, r.status) for r in got) == sorted(
                    (r.key, r.status) for r in expected
                )
                assert [r.chunk.first_day for r in got] == sorted(r.chunk.first_day for r in got)

    try:
        anyio.run(play)
        journal.flush()
        for job_id in (1, 2):
            job = JobIdentity.of(chunk(job_id, D0))
            span = (D0, D0 + timedelta(days=20))
            assert sorted(_fresh(path, job, *span)) == sorted(
                (r.key, str(r.status)) for r in journal.job_records(job, *span)
            )
    finally:
        journal.close()


def test_a_job_read_once_is_not_read_again(tmp_path: Path, chunk) -> None:
    """The point of it: the view's read of a job serves every later ask of its days."""
    journal = SqliteJournal.open(tmp_path / "j.sqlite", plan_name="p", plan_digest="d")
    reads: list[str] = []
    original = journal._read

    def counted(sql, params):  # type: ignore[no-untyped-def]
        reads.append(sql)
        return original(sql, params)

    journal._read = counted  # type: ignore[method-assign]
    try:
        first = chunk(1, D0)
        job = JobIdentity.of(first)
        journal.job_records(job, D0, D0 + timedelta(days=9))  # the job's view
        assert len(reads) == 1

        async def send_all() -> None:
            for n in range(10):
                c = chunk(1, D0 + timedelta(days=n))
                journal.propose(c, plan="p", timezone="Asia/Shanghai")
                journal.job_records(job, c.first_day, c.last_day)  # the separation's check
                await journal.mark_in_flight(c.key, 1.0)  # its own check
                journal.record_outcome(c.key, ChunkStatus.SUCCEEDED, request_id="R")

        anyio.run(send_all)
        assert len(reads) == 1
        wider = chunk(1, D0, 3)
        journal.propose(wider, plan="p", timezone="Asia/Shanghai")
        with pytest.raises(DayCoveredError):
            anyio.run(journal.mark_in_flight, wider.key, 1.0)
    finally:
        journal.close()


def test_a_failed_commit_leaves_no_record_it_lost_in_the_cache(tmp_path: Path, chunk) -> None:
    """A commit that fails (disk full, the file replaced) loses what was staged: the job's
    kept records forget it too, so reads tell the truth, as `get` does."""
    journal = SqliteJournal.open(tmp_path / "j.sqlite", plan_name="p", plan_digest="d")
    c = chunk(1, D0, 3)
    job = JobIdentity.of(c)
    span = (D0, D0 + timedelta(days=9))
    writer = journal._writer
    assert writer is not None
    try:
        assert journal.job_records(job, *span) == []  # the view: kept from now on
        journal.propose(c, plan="p", timezone="Asia/Shanghai")

        def failing() -> None:
            raise sqlite3.OperationalError("disk I/O error")

        writer._before_commit = failing
        with pytest.raises(sqlite3.OperationalError):
            anyio.run(journal.mark_in_flight, c.key, 1.0)
        assert writer.failed
        assert journal.get(c.key) is None
        assert journal.job_records(job, *span) == []
    finally:
        writer._failure = None  # close without another failing commit
        writer._before_commit = None
        journal.close()
