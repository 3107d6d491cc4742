"""A group's slots in PostgreSQL: what makes ``max_active_per_group`` global across replicas.

Two journals on one database stand for two replicas. A replica counts as alive while it
holds a lease; its slots count only then. The group's accepted days count until a watcher
records their instances' end.
"""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import anyio
import psycopg

from rerun_orchestrator.journal import ChunkStatus, JobIdentity
from rerun_orchestrator.journal._instances import DayInstance, InstanceState
from rerun_orchestrator.journal._postgres import PostgresJournal

D0 = date(2024, 1, 1)
G = ("cn-hangzhou", "ns-1", "g1")
OTHER = ("cn-hangzhou", "ns-1", "g2")


def open_pg(url: str) -> PostgresJournal:
    return PostgresJournal.open(url, plan_name="p", plan_digest="d", timezone="UTC")


def alive(journal: PostgresJournal, job_id: int) -> None:
    """The replica holds a lease (it is alive, and its slots count)."""
    assert journal.leases.claim(JobIdentity(*G[:2], None, G[2], job_id))


def test_two_replicas_share_one_groups_cap(postgres_url) -> None:
    with open_pg(postgres_url) as a, open_pg(postgres_url) as b:
        alive(a, 1)
        alive(b, 2)
        token_a, taken_a = a.group_slots.reserve(G, 3, 2, since=0.0)
        assert taken_a == 2
        assert b.group_slots.reserve(G, 3, 2, since=0.0)[1] == 1  # cut to what is free
        assert b.group_slots.reserve(G, 3, 1, since=0.0) == (None, 0)
        assert b.group_slots.reserve(OTHER, 3, 3, since=0.0)[1] == 3  # another group
        assert token_a is not None
        a.group_slots.release([token_a])
        assert b.group_slots.reserve(G, 3, 5, since=0.0)[1] == 2
        assert a.group_slots.active(G, since=0.0) == 3


def test_a_dead_replicas_slots_stop_counting_when_its_leases_expire(postgres_url) -> None:
    with open_pg(postgres_url) as a, open_pg(postgres_url) as b:
        alive(a, 1)
        alive(b, 2)
        assert a.group_slots.reserve(G, 2, 2, since=0.0)[1] == 2
        assert b.group_slots.reserve(G, 2, 1, since=0.0)[1] == 0
        with psycopg.connect(postgres_url, autocommit=True) as conn:  # a was killed
            conn.execute(
                "UPDATE rerun_leases SET expires_at = now() - interval '1 second' WHERE owner = %s",
                (a.owner,),
            )
        assert b.group_slots.reserve(G, 2, 2, since=0.0)[1] == 2


def test_accepted_days_count_until_their_instances_end(postgres_url, chunk) -> None:
    with open_pg(postgres_url) as j:
        alive(j, 1)
        sent = chunk(1, D0, days=3)
        old = chunk(2, D0, days=3)  # sent before the watch horizon: long pruned
        for c, started in ((sent, 5_000.0), (old, 10.0)):
            j.propose(c, plan="p", timezone="UTC")
            anyio.run(j.mark_in_flight, c.key, started)
            j.record_outcome(c.key, ChunkStatus.SUCCEEDED)
        j.flush()
        assert j.group_slots.active(G, since=1_000.0) == 3
        assert j.group_slots.reserve(G, 4, 4, since=1_000.0)[1] == 1
        ended = [
            DayInstance(sent.key, D0 + timedelta(n), 1, 10 + n, state, None, None, None, 1.0)
            for n, state in enumerate((InstanceState.SUCCESS, InstanceState.RUNNING))
        ]
        j.record_day_instances(ended)  # one day ended, one still running
        assert j.group_slots.active(G, since=1_000.0) == 1 + 2  # our slot + two open days


def test_racing_replicas_never_take_more_than_the_cap(postgres_url) -> None:
    """Eight admissions at once from two replicas, a cap of 3: exactly 3 slots taken
    (without the group's lock each would see the group empty)."""
    with open_pg(postgres_url) as a, open_pg(postgres_url) as b:
        alive(a, 1)
        alive(b, 2)
        start = threading.Barrier(8)
        taken: list[int] = []

        def admit(journal: PostgresJournal) -> None:
            start.wait()
            taken.append(journal.group_slots.reserve(G, 3, 1, since=0.0)[1])

        threads = [threading.Thread(target=admit, args=((a, b)[n % 2],)) for n in range(8)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert time.monotonic() - began < 30
        assert sorted(taken) == [0, 0, 0, 0, 0, 1, 1, 1]
