"""Backoff (full jitter, exact for a seeded Random) and the retry budget."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rerun_orchestrator.run._backoff import BACKOFF_BASE, BACKOFF_CAP, Backoff, RetryBudget


def test_sequence_is_exact_for_a_seeded_random() -> None:
    backoff = Backoff(base=0.5, cap=8.0)
    rng = random.Random(7)
    sequence = [backoff.delay(n, rng) for n in range(1, 9)]
    # exactly one draw per delay, scaled by the capped exponential ceiling 0.5·2^(n-1) ≤ 8
    replay = random.Random(7)
    assert sequence == [replay.random() * c for c in (0.5, 1, 2, 4, 8, 8, 8, 8)]
    assert sequence == [backoff.delay(n, r) for r in [random.Random(7)] for n in range(1, 9)]
    assert sequence != [backoff.delay(n, r) for r in [random.Random(8)] for n in range(1, 9)]


def test_defaults_are_botocore_standard_mode() -> None:
    backoff = Backoff()
    assert (backoff.base, backoff.cap) == (BACKOFF_BASE, BACKOFF_CAP) == (1.0, 20.0)
    assert [backoff.ceiling(n) for n in (1, 2, 3, 4, 5, 6, 1000)] == [1, 2, 4, 8, 16, 20, 20]


@given(retry=st.integers(min_value=1, max_value=10_000), seed=st.integers())
def test_delay_is_within_zero_and_the_capped_ceiling(retry: int, seed: int) -> None:
    backoff = Backoff(base=0.1, cap=5.0)
    delay = backoff.delay(retry, random.Random(seed))
    assert 0.0 <= delay < min(5.0, 0.1 * 2 ** min(retry - 1, 64))


def test_validation() -> None:
    with pytest.raises(ValueError, match="base"):
        Backoff(base=0)
    with pytest.raises(ValueError, match="cap"):
        Backoff(base=2, cap=1)
    with pytest.raises(ValueError, match="start at 1"):
        Backoff().ceiling(0)
    with pytest.raises(ValueError, match="ratio"):
        RetryBudget(ratio=-0.1)


def test_budget_stops_a_retry_storm() -> None:
    budget = RetryBudget(ratio=0.1, floor=5)
    # a storm: 1000 chunks, every attempt fails and wants a retry
    granted = 0
    for _ in range(1000):
        budget.first_attempt()
        if budget.try_spend():
            granted += 1
    assert granted == 5 + 100  # floor + 10% of first attempts, not 1000
    assert budget.refused == 1000 - granted
    assert budget.retries <= budget.allowed
    assert "retries=105" in repr(budget)


def test_budget_floor_lets_a_tiny_run_retry() -> None:
    budget = RetryBudget()
    budget.first_attempt()
    assert [budget.try_spend() for _ in range(12)] == [True] * 10 + [False] * 2
    assert budget.remaining == pytest.approx(0.1)
