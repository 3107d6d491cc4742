"""Whole log events: the exact dict each key event logs, so the log schema itself is tested.

Other tests pick one key out of an event; these compare every key and value (stamina's
tests/test_structlog.py style), so an added, renamed or dropped field fails here. What
varies from run to run is handled explicitly: `run_id` (random) is checked to be one
12-hex-digit id shared by every event of the run, then removed; a chunk's key is taken
from the journal; durations come from the doubles and the fake clock, so they are exact.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from structlog.testing import capture_logs

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator.journal import MemoryJournal, ReconcileOutcome
from rerun_orchestrator.run import run_plan

# What every event of a chunk of job 1, 2024-01-01..07, carries about where it is.
WHERE = {
    "plan": "t",
    "region": "cn-hangzhou",
    "namespace": "ns-1",
    "group_id": "g1",
    "first_day": "2024-01-01",
    "last_day": "2024-01-07",
    "days": 7,
}


def _without_run_id(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events less their `run_id`, once it is proved one well-formed id for them all."""
    ids = {event.pop("run_id") for event in logs}
    assert len(ids) == 1, ids
    assert re.fullmatch(r"[0-9a-f]{12}", ids.pop())
    return logs


async def _run(write_plan, doubles, script, **kwargs: Any) -> tuple[list[dict[str, Any]], str]:
    """One chunk (job 1, a week) on a fake clock; its events, and its chunk's key."""
    plan = write_plan(jobs=[1], days=7)
    clock = FakeClock()
    journal = MemoryJournal(clock=clock)
    client = doubles.Client(clock, script)
    with capture_logs() as logs:
        await run_plan(plan, client=client, journal=journal, clock=clock, **kwargs)
    (record,) = journal.records()
    return _without_run_id(logs), record.key


def _named(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [event for event in logs if event["event"] == name]


@pytest.mark.asyncio
async def test_an_accepted_call_logs_this_attempt_line_and_chunk_line(write_plan, doubles) -> None:
    logs, chunk = await _run(write_plan, doubles, lambda params, n: doubles.ok(n))
    assert _named(logs, "rerun.attempt") == [
        {
            **WHERE,
            "chunk": chunk,
            "job_id": 1,
            "attempt": 1,
            "request_id": "REQ-OK-1",
            "http_status": 200,
            "code": None,
            "outcome": "succeeded",
            "elapsed_ms": 12.0,
            "reason": "accepted",
            "event": "rerun.attempt",
            "log_level": "info",
        }
    ]
    assert _named(logs, "rerun.chunk.succeeded") == [
        {
            **WHERE,
            "chunk": chunk,
            "job_id": 1,
            "status": "succeeded",
            "attempts": 1,
            "request_id": "REQ-OK-1",
            "code": None,
            "message": None,
            "reason": None,
            "instance_ids": (),
            "event": "rerun.chunk.succeeded",
            "log_level": "info",
        }
    ]
    assert [e["event"] for e in logs] == [
        "rerun.run.started",
        "rerun.attempt",
        "rerun.chunk.succeeded",
        "rerun.run.finished",
    ]


@pytest.mark.asyncio
async def test_a_throttle_logs_the_rate_it_left_and_the_retrying_attempt(
    write_plan, doubles
) -> None:
    logs, chunk = await _run(
        write_plan, doubles, lambda p, n: doubles.throttled() if n == 1 else doubles.ok(n)
    )
    assert _named(logs, "rerun.throttle") == [
        {
            **WHERE,
            "chunk": chunk,
            "code": "Throttling.User",
            "retry_after_ms": None,
            "rate_before": 10.0,
            "rate_before_text": "10/s",
            "rate": 7.0,  # the adaptive limiter's multiplicative decrease (x 0.7)
            "rate_text": "7/s",
            "event": "rerun.throttle",
            "log_level": "warning",
        }
    ]
    retrying, succeeded = _named(logs, "rerun.attempt")
    assert retrying == {
        **WHERE,
        "chunk": chunk,
        "job_id": 1,
        "attempt": 1,
        "request_id": "REQ-THR",
        "http_status": 400,
        "code": "Throttling.User",
        "outcome": "retrying",
        "elapsed_ms": 5.0,
        "reason": "throttled by the API quota (Throttling.User, HTTP 400)",
        "event": "rerun.attempt",
        "log_level": "info",
    }
    assert (succeeded["attempt"], succeeded["request_id"]) == (2, "REQ-OK-2")


@pytest.mark.asyncio
async def test_a_doubtful_call_is_logged_unknown_then_reconciled(write_plan, doubles) -> None:
    reconciler = doubles.Reconciler(FakeClock(), lambda record: ReconcileOutcome.FOUND)
    logs, chunk = await _run(
        write_plan,
        doubles,
        lambda p, n: doubles.lost() if n == 1 else doubles.ok(n),
        reconciler=reconciler,
    )
    doubtful, reconciled, settled = (
        e for e in logs if e["event"] not in ("rerun.run.started", "rerun.run.finished")
    )
    assert doubtful == {
        **WHERE,
        "chunk": chunk,
        "job_id": 1,
        "attempt": 1,
        "request_id": None,  # no answer: nothing the server said, not even its RequestId
        "http_status": None,
        "code": None,
        "outcome": "unknown",
        "elapsed_ms": 30.0,
        "reason": "read timeout after the request was written",
        "event": "rerun.attempt",
        "log_level": "info",
    }
    assert reconciled == {
        **WHERE,
        "chunk": chunk,
        "job_id": 1,
        "outcome": "found",
        "reason": "scripted found",
        "instance_ids": (1001,),
        "event": "rerun.chunk.reconciled",
        "log_level": "info",
    }
    assert settled == {
        **WHERE,
        "chunk": chunk,
        "job_id": 1,
        "status": "succeeded",
        "attempts": 1,
        "request_id": None,
        "code": None,
        "message": None,
        "reason": "scripted found",
        "instance_ids": (1001,),
        "event": "rerun.chunk.succeeded",
        "log_level": "info",
    }


@pytest.mark.asyncio
async def test_the_run_finished_event_whole(write_plan, doubles) -> None:
    logs, _ = await _run(
        write_plan, doubles, lambda p, n: doubles.throttled() if n == 1 else doubles.ok(n)
    )
    finished = logs[-1]
    elapsed = finished.pop("elapsed_seconds")  # fake time: the throttle's backoff, jittered
    assert isinstance(elapsed, float)
    assert elapsed > 0
    assert finished == {
        "plan": "t",
        "total": 1,
        "succeeded": 1,
        "failed": 0,
        "unknown": 0,
        "pending": 0,
        "attempts": 2,
        "retries": 1,
        "throttled": 1,
        "reconciled": 0,
        "undecided": 0,
        "stopped": False,
        "halted": None,
        "notes": [],
        "exit_code": 0,
        "days": {"total": 7, "succeeded": 7, "failed": 0, "unknown": 0, "pending": 0},
        "covered_by": {"t": 7},
        "instances": None,
        "held": 0,
        "held_by": [],
        "event": "rerun.run.finished",
        "log_level": "info",
    }
