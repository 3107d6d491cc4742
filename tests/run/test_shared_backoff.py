"""The shared backoff: two pacers on one PostgreSQL database (two replicas) against the
simulator's quota model (its `TokenBucket`), on a fake clock. A throttle seen by one
pauses both; the shared rate is cut once per overload and recovers slowly; adapting
keeps the throttles far below what a pause alone gets."""

from __future__ import annotations

import time

import psycopg
import pytest

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator.journal._postgres import PostgresJournal
from rerun_orchestrator.run._shared_pacer import SharedPacer
from rerun_orchestrator.simulator._quota import QuotaSpec, TokenBucket

CEILING = 10.0  # the plan's rate
QUOTA = 2.0  # what the account really leaves (colleagues use the rest)


def near(value: float) -> object:
    return pytest.approx(value, abs=1e-3)  # timestamptz keeps microseconds


@pytest.fixture
def connect(postgres_url):
    PostgresJournal.open(postgres_url, plan_name="p", plan_digest="d").close()  # the tables
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        yield lambda: _Borrowed(conn)


def replicas(
    connect, clock: FakeClock, *, adaptive: bool = True, account: str = "acct"
) -> list[SharedPacer]:
    return [
        SharedPacer(
            connect, account, "RerunJob", CEILING, clock=clock, adaptive=adaptive, fake_time=True
        )
        for _ in range(2)
    ]


def fake_clock() -> FakeClock:
    # Ahead of the database's clock: the row's defaults (now()) are in the fake past.
    return FakeClock(wall_start=time.time() + 3600, autojump=False)


def drive(pacers: list[SharedPacer], clock: FakeClock, bucket: TokenBucket, seconds: float):
    """Both replicas send in turn for `seconds` of fake time, each call at its reserved
    slot; the server's bucket throttles what exceeds the quota (no Retry-After, as
    SchedulerX often sends none). Returns (sends, throttles, rates seen)."""
    end = clock.now() + seconds
    sends = throttles = 0
    rates: list[float] = []
    turn = 0
    while clock.now() < end:
        pacer = pacers[turn % len(pacers)]
        turn += 1
        clock.advance(pacer.reserve())
        sent_at = clock.now()
        sends += 1
        if bucket.try_take(sent_at) is None:
            pacer.on_success()
        else:
            throttles += 1
            pacer.on_throttle(sent_at=sent_at, retry_after=None)
            pacer.wait_throttles()  # the update lands in milliseconds; here, at once
        rates.append(pacer.rate)
    return sends, throttles, rates


def test_a_throttle_seen_by_one_replica_pauses_and_slows_the_other(connect) -> None:
    clock = fake_clock()
    a, b = replicas(connect, clock)
    t0 = clock.now()
    assert (a.reserve(), b.reserve()) == (0.0, near(1 / CEILING))
    a.on_throttle(sent_at=t0, retry_after=3.0)  # returns at once: a thread writes it
    a.wait_throttles()
    assert (a.cuts, a.rate) == (1, near(CEILING * 0.7))
    # The calls in flight at the throttle come back throttled too: one overload, one cut.
    b.on_throttle(sent_at=t0 - 0.5, retry_after=None)  # sent before the cut
    clock.advance(0.5)
    b.on_throttle(sent_at=t0 + 0.2, retry_after=None)  # within the congestion window
    b.wait_throttles()
    assert (b.throttles, b.cuts) == (2, 0)
    assert b.reserve() == near(2.5)  # b honours a's pause...
    assert b.rate < 0.75 * CEILING  # ...and paces by the rate a's throttle cut
    clock.advance(2.5)
    b.on_throttle(sent_at=clock.now(), retry_after=None)  # a new overload
    b.wait_throttles()
    assert b.cuts == 1
    assert a.reserve() == near(1.0)  # b's default pause, honoured by a


def test_the_shared_rate_adapts_to_the_quota_and_recovers_slowly(connect) -> None:
    clock = fake_clock()
    pacers = replicas(connect, clock)
    bucket = TokenBucket(QuotaSpec(QUOTA, 2.0), clock.now())
    drive(pacers, clock, bucket, 10.0)  # find the quota
    sends, throttles, rates = drive(pacers, clock, bucket, 60.0)
    assert throttles <= 0.1 * sends, (sends, throttles)
    assert 0.6 * QUOTA <= sends / 60.0 <= 1.2 * QUOTA  # near the quota, from both together
    assert max(rates) < CEILING  # never back at the plan's rate while throttled

    # Without adapting, the pause alone sends at the plan's rate between pauses.
    blind_clock = fake_clock()
    blind = replicas(connect, blind_clock, adaptive=False, account="blind")
    blind_bucket = TokenBucket(QuotaSpec(QUOTA, 2.0), blind_clock.now())
    drive(blind, blind_clock, blind_bucket, 10.0)
    _, blind_throttles, _ = drive(blind, blind_clock, blind_bucket, 60.0)
    assert blind_throttles > 3 * throttles, (blind_throttles, throttles)

    # The colleagues stop: the shared rate climbs back to the plan's, but not at once.
    free = TokenBucket(QuotaSpec(100.0, 100.0), clock.now())
    _, _, early = drive(pacers, clock, free, 2.0)
    assert early[-1] < 0.8 * CEILING
    _, late_throttles, late = drive(pacers, clock, free, 60.0)
    assert (late_throttles, late[-1]) == (0, near(CEILING))


class _Borrowed:
    def __init__(self, conn) -> None:
        self.conn = conn

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc) -> None:
        return None
