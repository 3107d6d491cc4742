"""The Journal protocol, run against every implementation (SQLite, memory, PostgreSQL):
states, transitions, sync, orphans."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from rerun_orchestrator.journal import (
    ChunkStatus,
    InvalidTransitionError,
    JobFactsEntry,
    JobIdentity,
    Journal,
    JournalError,
    MemoryJournal,
    SqliteJournal,
)
from rerun_orchestrator.journal._instances import DayInstance, InstanceState
from rerun_orchestrator.journal._postgres import PostgresJournal

D0 = date(2024, 1, 1)


@pytest.fixture(params=["sqlite", "memory", "postgres"])
def journal(request: pytest.FixtureRequest, tmp_path: Path, clock) -> Iterator[Journal]:
    if request.param == "sqlite":
        j: Journal = SqliteJournal.open(
            tmp_path / "j.sqlite", plan_name="p", plan_digest="d1", clock=clock
        )
    elif request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        j = PostgresJournal.open(url, plan_name="p", plan_digest="d1", clock=clock)
    else:
        j = MemoryJournal(plan_name="p", plan_digest="d1", clock=clock)
    yield j
    j.close()


@pytest.fixture
def three(chunk):
    return [chunk(1, D0, 7), chunk(1, D0 + timedelta(days=7), 7), chunk(2, D0, 3)]


@pytest.mark.asyncio
async def test_sync_adds_pending_and_keeps_known(journal, three, chunk) -> None:
    first = journal.sync(three)
    assert (first.added, first.known, first.orphaned, first.orphaned_count) == (3, 0, (), 0)
    await journal.mark_in_flight(three[0].key, 1.0)
    journal.record_outcome(three[0].key, ChunkStatus.SUCCEEDED, request_id="R1")

    extra = chunk(3, D0)
    second = journal.sync([*three, extra])
    assert (second.added, second.known) == (1, 3)
    assert journal.get(three[0].key).status is ChunkStatus.SUCCEEDED  # kept, not reset
    assert journal.get(extra.key).status is ChunkStatus.PENDING
    assert [r.key for r in journal.records()] == [c.key for c in [*three, extra]]


def test_orphans_are_reported_and_never_listed_for_sending(journal, three) -> None:
    journal.sync(three)
    summary = journal.sync(three[1:])
    assert summary.orphaned == (three[0].key,)
    assert summary.orphaned_count == 1
    assert journal.orphans() == ((three[0].key,), 1)
    pending = [r.key for r in journal.records([ChunkStatus.PENDING], plan_only=True)]
    assert pending == [three[1].key, three[2].key]
    assert journal.counts(plan_only=True)[ChunkStatus.PENDING] == 2
    assert journal.counts()[ChunkStatus.PENDING] == 3
    # still in the journal: status and reports can show it
    assert three[0].key in [r.key for r in journal.records()]
    # and an orphan that comes back into the plan is no longer one
    assert journal.sync(three).orphaned_count == 0


def test_orphan_list_is_capped_but_counted(journal, chunk) -> None:
    many = [chunk(7, D0 + timedelta(days=i)) for i in range(150)]
    journal.sync(many)
    summary = journal.sync(iter([chunk(8, D0)]))  # any iterable, not only lists
    assert summary.orphaned_count == 150
    assert len(summary.orphaned) == 100
    assert summary.orphaned == tuple(c.key for c in many[:100])


@pytest.mark.asyncio
async def test_an_attempt_counts_and_marks_in_flight(journal, three) -> None:
    journal.sync(three)
    record = await journal.mark_in_flight(three[0].key, 123.5)
    assert (record.status, record.attempts, record.attempt_started_at) == (
        ChunkStatus.IN_FLIGHT,
        1,
        123.5,
    )
    assert journal.get(three[0].key) == record
    journal.record_outcome(three[0].key, ChunkStatus.PENDING, request_id="R1", code="Throttling")
    record = await journal.mark_in_flight(three[0].key, 200.0)
    assert record.attempts == 2
    assert record.request_id == "R1"


@pytest.mark.parametrize(
    "status", [ChunkStatus.IN_FLIGHT, ChunkStatus.UNKNOWN, ChunkStatus.SUCCEEDED]
)
@pytest.mark.asyncio
async def test_no_blind_resend(journal, three, status) -> None:
    journal.sync(three)
    await journal.mark_in_flight(three[0].key, 1.0)
    if status is not ChunkStatus.IN_FLIGHT:
        journal.record_outcome(three[0].key, status)
    with pytest.raises(InvalidTransitionError, match=str(status)):
        await journal.mark_in_flight(three[0].key, 2.0)
    assert journal.get(three[0].key).attempts == 1


@pytest.mark.asyncio
async def test_failed_may_be_resent_when_asked(journal, three) -> None:
    journal.sync(three)
    await journal.mark_in_flight(three[0].key, 1.0)
    journal.record_outcome(three[0].key, ChunkStatus.FAILED, code=-1, message="bad job")
    assert (await journal.mark_in_flight(three[0].key, 2.0)).attempts == 2


@pytest.mark.parametrize("status", [ChunkStatus.PENDING, ChunkStatus.FAILED, ChunkStatus.UNKNOWN])
@pytest.mark.asyncio
async def test_succeeded_is_final(journal, three, status) -> None:
    journal.sync(three)
    await journal.mark_in_flight(three[0].key, 1.0)
    journal.record_outcome(three[0].key, ChunkStatus.SUCCEEDED, request_id="R1")
    with pytest.raises(InvalidTransitionError):
        journal.record_outcome(three[0].key, status)
    assert journal.get(three[0].key).status is ChunkStatus.SUCCEEDED


def test_outcome_in_flight_is_refused(journal, three) -> None:
    journal.sync(three)
    with pytest.raises(InvalidTransitionError, match="mark_in_flight"):
        journal.record_outcome(three[0].key, ChunkStatus.IN_FLIGHT)


@pytest.mark.asyncio
async def test_unknown_key_is_an_error(journal, three) -> None:
    journal.sync(three)
    with pytest.raises(JournalError, match="not in"):
        await journal.mark_in_flight("nope", 1.0)
    with pytest.raises(JournalError, match="not in"):
        journal.record_outcome("nope", ChunkStatus.FAILED)
    assert journal.get("nope") is None


@pytest.mark.asyncio
async def test_outcome_fields(journal, three) -> None:
    journal.sync(three)
    key = three[0].key
    await journal.mark_in_flight(key, 1.0)
    journal.record_outcome(
        key,
        ChunkStatus.UNKNOWN,
        request_id="R1",
        code="InternalError",
        message="boom",
        reason="500",
    )
    record = journal.record_outcome(
        key, ChunkStatus.SUCCEEDED, reason="found by reconciliation", instance_ids=[9, 7, 9]
    )
    assert record.request_id == "R1"  # None keeps the last RequestId
    assert (record.code, record.message) == (None, None)
    assert record.reason == "found by reconciliation"
    assert record.instance_ids == (7, 9)
    again = journal.record_outcome(key, ChunkStatus.SUCCEEDED)
    assert again.instance_ids == (7, 9)  # empty keeps what was found
    assert journal.get(key) == again


@pytest.mark.asyncio
async def test_records_filter_order_and_writes_while_iterating(journal, chunk) -> None:
    chunks = [chunk(1, D0 + timedelta(days=i)) for i in range(2500)]
    journal.sync(chunks)
    seen = []
    for record in journal.records([ChunkStatus.PENDING]):
        seen.append(record.key)
        if len(seen) % 2:
            await journal.mark_in_flight(record.key, 1.0)
            journal.record_outcome(record.key, ChunkStatus.FAILED, code=1)
    assert seen == [c.key for c in chunks]  # each once, in plan order, despite the writes
    failed = [r.key for r in journal.records([ChunkStatus.FAILED])]
    assert failed == [c.key for c in chunks[::2]]
    both = list(journal.records([ChunkStatus.FAILED, ChunkStatus.PENDING]))
    assert [r.key for r in both] == [c.key for c in chunks]
    assert list(journal.records([])) == []
    counts = journal.counts()
    assert counts[ChunkStatus.FAILED] == 1250
    assert counts[ChunkStatus.PENDING] == 1250
    assert counts[ChunkStatus.SUCCEEDED] == 0  # every status is present


@pytest.mark.asyncio
async def test_closed_journal_refuses_writes(journal, three) -> None:
    journal.sync(three)
    journal.close()
    with pytest.raises(JournalError, match="closed"):
        await journal.mark_in_flight(three[0].key, 1.0)


def test_day_instances_are_upserted_by_chunk_and_day_and_read_back(journal, three) -> None:
    """The watcher's record: every backend keeps the latest state of each (chunk, day)."""
    journal.sync(three)
    first, other = three[0].key, three[2].key
    journal.record_day_instances(
        [
            DayInstance(first, D0, 1, 101, InstanceState.RUNNING, "2024-01-01 10:00:00"),
            DayInstance(first, D0 + timedelta(days=1), 1, 102, InstanceState.WAITING),
            DayInstance(other, D0, 2, 201, InstanceState.SUCCESS),
        ]
    )
    journal.record_day_instances(
        [
            DayInstance(
                first,
                D0,
                1,
                101,
                InstanceState.FAILED,
                "2024-01-01 10:00:00",
                "2024-01-01 10:05:00",
                reason="exit 1",
                updated_at=5.0,
                retries=1,
            )
        ]
    )
    mine = journal.day_instances([first])
    assert set(mine) == {(first, D0), (first, D0 + timedelta(days=1))}
    failed = mine[(first, D0)]
    assert (failed.status, failed.end_time, failed.reason, failed.retries) == (
        InstanceState.FAILED,
        "2024-01-01 10:05:00",
        "exit 1",
        1,
    )
    assert journal.day_instances([]) == {}
    assert [(i.job_id, i.day, i.instance_id) for i in journal.all_day_instances()] == [
        (1, D0, 101),
        (1, D0 + timedelta(days=1), 102),
        (2, D0, 201),
    ]


def _facts(job: JobIdentity, max_concurrency: int, checked_at: float) -> JobFactsEntry:
    return JobFactsEntry(
        job,
        name=f"job-{job.job_id}",
        enabled=True,
        max_concurrency=max_concurrency,
        time_type=1,
        expression="0 0 2 * * ?",
        calendar=None,
        data_offset=None,
        professional=None,
        checked_at=checked_at,
    )


def test_job_facts_are_replaced_forgotten_and_read_back(journal) -> None:
    """The pre-flight's cache: every backend keeps the latest facts of each job, a job
    with and one without a namespace source apart, and forgets a job found bad."""
    plain = JobIdentity("cn-hangzhou", "ns-1", None, "g1", 7)
    sourced = JobIdentity("cn-hangzhou", "ns-1", "src", "g1", 7)
    other = JobIdentity("cn-hangzhou", "ns-1", None, "g2", 8)
    assert journal.job_facts() == {}
    journal.record_job_facts([_facts(plain, 1, 10.0), _facts(sourced, 2, 10.0)])
    journal.record_job_facts([_facts(plain, 5, 20.5), _facts(other, 3, 20.5)], forget=[sourced])
    journal.record_job_facts([])  # nothing to do
    facts = journal.job_facts()
    assert facts == {plain: _facts(plain, 5, 20.5), other: _facts(other, 3, 20.5)}
    entry = facts[plain]
    assert (entry.professional, entry.data_offset, entry.calendar) == (None, None, None)


@pytest.mark.asyncio
async def test_a_screen_refuses_a_mark_in_the_same_step_and_nothing_is_written(
    journal, chunk
) -> None:
    """The executor's separation rule rides on the mark: asked with the new record and the
    job's records over its days, what it returns is raised and the record stays as it was."""
    first = chunk(1, D0, 7)
    journal.propose(first, plan="p", timezone="UTC")
    await journal.mark_in_flight(first.key, 1.0)
    again = dataclasses.replace(first, key=f"{first.key}~g1")  # a deliberate rerun's
    journal.propose(again, plan="p", timezone="UTC", generation=1)
    asked: list[tuple[str, ChunkStatus, float | None, set[str]]] = []

    def screen(new, others):  # type: ignore[no-untyped-def]
        asked.append((new.key, new.status, new.attempt_started_at, {o.key for o in others}))
        return RuntimeError("held back")

    with pytest.raises(RuntimeError, match="held back"):
        await journal.mark_in_flight(again.key, 2.0, screen=screen)
    [(key, status, started, others)] = asked
    assert (key, status, started) == (again.key, ChunkStatus.IN_FLIGHT, 2.0)
    assert first.key in others
    assert journal.get(first.key).status is ChunkStatus.IN_FLIGHT  # type: ignore[union-attr]
    kept = journal.get(again.key)
    assert kept is None or (kept.status, kept.attempts) == (ChunkStatus.PENDING, 0)
    # refused, not spoilt: proposed again (as a refused mark drops its proposal, like a
    # covered day's), it is marked once the screen lets it
    journal.propose(again, plan="p", timezone="UTC", generation=1)
    marked = await journal.mark_in_flight(again.key, 3.0, screen=lambda new, others: None)
    assert (marked.status, marked.attempts) == (ChunkStatus.IN_FLIGHT, 1)


def test_a_generation_started_since_the_caller_looked_is_joined_not_doubled(journal) -> None:
    """Two replicas started with --rerun-succeeded at the same moment both read the plan
    at generation 0 and both ask for a new one: the second joins the first's, or every day
    would be rerun twice more."""
    assert journal.start_generation("p", seen=0) == 1
    assert journal.start_generation("p", seen=0) == 1  # the other replica: joined
    assert [p.rerun_generation for p in journal.plans() if p.name == "p"] == [1]
    assert journal.start_generation("p", seen=1) == 2  # one that saw 1 (complete): a new one
    assert journal.start_generation("p") == 3  # without `seen`: always a new one
