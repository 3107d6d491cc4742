"""What only the PostgreSQL journal does: schema versions, leases and their fence, the
ledger's invariant across processes (two journals on one database stand for two
replicas), and the account's quota shared through the database."""

from __future__ import annotations

import itertools
import threading
from datetime import date, timedelta

import anyio
import psycopg
import pytest

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator.journal import ChunkStatus, DayCoveredError, JobIdentity, JournalError
from rerun_orchestrator.journal._lease import LeaseLostError, job_key
from rerun_orchestrator.journal._locate import open_journal, open_readonly
from rerun_orchestrator.journal._pg_schema import SCHEMA_VERSION
from rerun_orchestrator.journal._postgres import PostgresJournal
from rerun_orchestrator.preflight import (
    FACTS_MAX_AGE_SECONDS,
    JobFacts,
    JobRef,
    JournalCache,
    Schedule,
)
from rerun_orchestrator.run._shared_pacer import SharedPacer, replica_line

D0 = date(2024, 1, 1)


def open_pg(url: str, **kw) -> PostgresJournal:
    return PostgresJournal.open(url, plan_name="p", plan_digest="d", timezone="UTC", **kw)


def expire(url: str, job: JobIdentity) -> None:
    """Time passes for a lease: its expiry moves into the past (database time)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE rerun_leases SET expires_at = now() - interval '1 second' WHERE job = %s",
            (job_key(job),),
        )


def test_schema_versions_are_recorded_and_a_newer_one_is_refused(postgres_url) -> None:
    open_pg(postgres_url).close()
    open_pg(postgres_url).close()  # a second opening applies nothing again
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM rerun_schema_version")]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        conn.execute(
            "INSERT INTO rerun_schema_version (version) VALUES (%s)", (SCHEMA_VERSION + 1,)
        )
    with pytest.raises(JournalError, match="newer rerun-orchestrator"):
        open_pg(postgres_url)


def test_a_schema_3_journal_gains_the_shared_job_facts(postgres_url, chunk) -> None:
    """Migrations 4 and 5 on a journal that schema 3 wrote: its rows stay, the tables appear."""
    with open_pg(postgres_url) as j:
        j.sync([chunk(1, D0)])
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # back to schema 3
        conn.execute("DROP TABLE rerun_job_facts")
        conn.execute("DROP INDEX rerun_day_instances_active")
        conn.execute("ALTER TABLE rerun_quota DROP COLUMN w_max, DROP COLUMN cut_at")
        conn.execute("DROP TABLE rerun_group_slots")  # and migration 5's
        conn.execute("DROP INDEX rerun_chunks_group_accepted")
        conn.execute("DELETE FROM rerun_schema_version WHERE version >= 4")
    with open_pg(postgres_url) as j:
        assert len(list(j.records())) == 1
        assert j.job_facts() == {}
    with psycopg.connect(postgres_url) as conn:
        (version,) = conn.execute("SELECT MAX(version) FROM rerun_schema_version").fetchone()
        assert version == SCHEMA_VERSION == 5


def test_a_job_checked_by_one_replica_is_not_asked_by_another(postgres_url) -> None:
    ref = JobRef("cn-hangzhou", "ns-1", None, "g1", 7)
    facts = JobFacts(ref, "j", True, 2, Schedule(1, "0 0 2 * * ?"), professional=True)
    clock = FakeClock(wall_start=1_000.0)
    with open_pg(postgres_url) as a, open_pg(postgres_url) as b:
        first = JournalCache(a, clock=clock)
        assert first.known(ref) is None  # nobody checked it: ask
        first.remember(facts)
        first.save()
        assert JournalCache(b, clock=clock).known(ref) == facts  # the other replica's check
        clock.advance(FACTS_MAX_AGE_SECONDS + 1)
        assert JournalCache(b, clock=clock).known(ref) is None  # a day old: ask again


def test_a_foreign_table_of_the_same_name_is_refused(postgres_url) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE rerun_meta (x int)")
    with pytest.raises(JournalError, match="not a rerun-orchestrator journal"):
        open_pg(postgres_url)


def test_reading_an_empty_database_is_refused_and_a_password_never_shown(postgres_url) -> None:
    with pytest.raises(JournalError, match="no journal at") as caught:
        open_readonly(postgres_url)
    assert "search_path" not in str(caught.value)  # the query is left out (it may hold secrets)
    with pytest.raises(JournalError) as unreachable:
        open_readonly("postgresql://u:hunter2@127.0.0.1:1/db")
    assert "hunter2" not in str(unreachable.value)
    assert "u:***@" in str(unreachable.value)


def test_a_plans_zone_change_is_refused_once_it_covered_days(postgres_url, chunk) -> None:
    with open_pg(postgres_url) as j:
        c = chunk(1, D0)
        j.propose(c, plan="p", timezone="UTC")
        anyio.run(j.mark_in_flight, c.key, 1.0)
        j.record_outcome(c.key, ChunkStatus.SUCCEEDED)
    with pytest.raises(JournalError, match="timezone"):
        PostgresJournal.open(postgres_url, plan_name="p", plan_digest="d", timezone="Asia/Tokyo")
    with open_readonly(postgres_url) as reader:
        assert [p.name for p in reader.plans()] == ["p"]
        assert reader.counts()[ChunkStatus.SUCCEEDED] == 1


def test_two_replicas_never_cover_a_day_twice(postgres_url, chunk) -> None:
    a, b = open_pg(postgres_url), open_pg(postgres_url)
    try:
        first, overlapping = chunk(1, D0, 3), chunk(1, D0 + timedelta(days=2), 3)
        a.propose(first, plan="p", timezone="UTC")
        b.propose(overlapping, plan="p", timezone="UTC")
        anyio.run(a.mark_in_flight, first.key, 1.0)
        with pytest.raises(DayCoveredError):
            anyio.run(b.mark_in_flight, overlapping.key, 1.0)
        assert b.get(overlapping.key) is not None  # still only proposed: nothing written
        assert a.counts()[ChunkStatus.IN_FLIGHT] == 1
    finally:
        a.close()
        b.close()


def test_racing_marks_of_overlapping_chunks_let_exactly_one_through(postgres_url, chunk) -> None:
    journals = [open_pg(postgres_url) for _ in range(4)]
    # All four hold the day D0 + 2.
    chunks = [*(chunk(2, D0 + timedelta(days=i), 3) for i in range(3)), chunk(2, D0 + timedelta(2))]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(journals))

    def mark(journal: PostgresJournal, c) -> None:
        journal.propose(c, plan="p", timezone="UTC")
        barrier.wait()
        try:
            anyio.run(journal.mark_in_flight, c.key, 1.0)
            outcomes.append("sent")
        except DayCoveredError:
            outcomes.append("refused")

    threads = [
        threading.Thread(target=mark, args=pair) for pair in zip(journals, chunks, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for j in journals:
        j.close()
    assert sorted(outcomes) == ["refused", "refused", "refused", "sent"]


def test_a_lease_is_exclusive_until_released_or_expired(postgres_url, chunk) -> None:
    job = JobIdentity.of(chunk(3, D0))
    a, b = open_pg(postgres_url), open_pg(postgres_url)
    try:
        assert a.leases.claim(job)
        assert not b.leases.claim(job)
        a.leases.release(job)
        assert b.leases.claim(job)
        expire(postgres_url, job)
        assert a.leases.claim(job)  # taken over from an expired holder
        assert a.leases.taken_over == 1
    finally:
        a.close()
        b.close()


def test_the_heartbeat_keeps_a_lease_alive(postgres_url, chunk) -> None:
    job = JobIdentity.of(chunk(4, D0))
    with open_pg(postgres_url, lease_seconds=60) as a:
        a.leases.claim(job)
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("UPDATE rerun_leases SET expires_at = now() + interval '1 second'")
            a.leases.renew()
            (left,) = conn.execute(
                "SELECT EXTRACT(EPOCH FROM expires_at - now()) FROM rerun_leases"
            ).fetchone()
        assert left > 50


def test_a_paused_replica_that_wakes_after_a_takeover_cannot_write(postgres_url, chunk) -> None:
    sent, later = chunk(5, D0), chunk(5, D0 + timedelta(days=1))
    job = JobIdentity.of(sent)
    paused, survivor = open_pg(postgres_url), open_pg(postgres_url)
    try:
        assert paused.leases.claim(job)
        paused.propose(sent, plan="p", timezone="UTC")
        paused.propose(later, plan="p", timezone="UTC")
        anyio.run(paused.mark_in_flight, sent.key, 1.0)  # the request went out; then it froze
        expire(postgres_url, job)
        assert survivor.leases.claim(job)
        # It wakes: neither its outcome nor a new send gets through the fence.
        paused.record_outcome(sent.key, ChunkStatus.SUCCEEDED, request_id="R1")
        paused.flush()  # written, or refused, by now
        assert paused.outcomes_refused == 1
        with pytest.raises(LeaseLostError):
            anyio.run(paused.mark_in_flight, later.key, 2.0)
        # The survivor finds the chunk in flight, to reconcile, and settles it.
        record = survivor.get(sent.key)
        assert record is not None
        assert record.status is ChunkStatus.IN_FLIGHT
        survivor.record_outcome(sent.key, ChunkStatus.SUCCEEDED, reason="found")
        assert survivor.get(later.key) is None  # the frozen replica wrote nothing more
    finally:
        paused.close()
        survivor.close()


def test_an_unleased_journal_never_writes_a_job_another_replica_holds(postgres_url, chunk) -> None:
    c = chunk(6, D0)
    holder, other = open_pg(postgres_url), open_pg(postgres_url)
    try:
        holder.leases.claim(JobIdentity.of(c))
        other.propose(c, plan="p", timezone="UTC")
        with pytest.raises(LeaseLostError, match="lease is held by replica"):
            anyio.run(other.mark_in_flight, c.key, 1.0)
    finally:
        holder.close()
        other.close()


def test_open_journal_chooses_the_backend_by_location(postgres_url, tmp_path) -> None:
    kw = {
        "plan_name": "p",
        "plan_digest": "d",
        "timezone": "UTC",
        "job_days": 1,
        "chunks": 1,
        "locations": (),
    }
    with open_journal(postgres_url, **kw) as pg:
        assert isinstance(pg, PostgresJournal)
        assert pg.location.startswith("postgresql://")
    with open_journal(tmp_path / "j.sqlite", **kw) as lite:
        assert not isinstance(lite, PostgresJournal)


def test_the_shared_pacer_spaces_every_replicas_calls(postgres_url) -> None:
    open_pg(postgres_url).close()
    rate = 20.0
    with psycopg.connect(postgres_url, autocommit=True) as conn:

        def connect():
            return _Borrowed(conn)

        pacers = [SharedPacer(connect, "acct", "RerunJob", rate) for _ in range(3)]
        sends = [pacers[i % 3].reserve_slot()[0] for i in range(30)]  # database time
        gaps = [b - a for a, b in itertools.pairwise(sends)]
        assert min(gaps) >= 1 / rate - 1e-6, gaps  # never closer than the rate allows
        # A throttle seen by one replica pauses them all.
        pacers[0].on_throttle(sent_at=0.0, retry_after=3.0)
        assert pacers[2].reserve() >= 2.5


class _Borrowed:
    def __init__(self, conn) -> None:
        self.conn = conn

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc) -> None:
        return None


def test_the_summary_says_what_each_replica_sent_and_settled(postgres_url, chunk) -> None:
    a, b = open_pg(postgres_url), open_pg(postgres_url)
    try:
        mine, theirs = [chunk(1, D0, 2), chunk(1, D0 + timedelta(days=2), 3)], [chunk(2, D0)]
        for journal, chunks in ((a, mine), (b, theirs)):
            for c in chunks:
                journal.propose(c, plan="p", timezone="UTC")
                anyio.run(journal.mark_in_flight, c.key, 1.0)
        a.record_outcome(mine[0].key, ChunkStatus.PENDING, code="Throttling.User")
        anyio.run(a.mark_in_flight, mine[0].key, 2.0)  # a second call for the same chunk
        for journal, chunks in ((a, mine), (b, theirs)):
            for c in chunks:
                journal.record_outcome(c.key, ChunkStatus.SUCCEEDED, request_id="R")
        line_a, line_b = replica_line(a), replica_line(b)
    finally:
        a.close()
        b.close()
    assert str(line_a).startswith(f"replica {a.owner}: ")
    assert "sent 3 RerunJob calls, settled 2 chunks (5 days) as succeeded" in str(line_a)
    assert "sent 1 RerunJob calls, settled 1 chunks (1 days)" in str(line_b)
    assert a.owner != b.owner
