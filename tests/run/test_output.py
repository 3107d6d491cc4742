"""What people and machines read: the CLI's log formats, the live line, the summary, the API."""

from __future__ import annotations

import io
import json
import sys

import pytest
import structlog
from rich.console import Console

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator._logsetup import configure
from rerun_orchestrator.journal import ChunkRecord, ChunkStatus
from rerun_orchestrator.run import RateLimiter, RunResult, RunStats, StatusCounts
from rerun_orchestrator.run._events import AttemptFinished, ChunkFinished, EventSink
from rerun_orchestrator.run._progress import LiveProgress, write_summary


@pytest.fixture
def restore_structlog():
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def attempt() -> AttemptFinished:
    return AttemptFinished(
        chunk="1:2024-01-01:2024-01-07:abc",
        job_id=1,
        attempt=2,
        request_id="REQ",
        http_status=400,
        code="Throttling.User",
        outcome="retrying",
        elapsed_ms=12.345,
        reason="throttled",
    )


def test_json_lines_go_to_the_current_stderr(restore_structlog, monkeypatch) -> None:
    configure("json")
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    EventSink().emit(attempt())
    monkeypatch.setattr(sys, "stderr", second)  # a live display redirects stderr later
    EventSink().emit(attempt())
    for stream in (first, second):
        (line,) = stream.getvalue().splitlines()
        entry = json.loads(line)
        assert entry["event"] == "rerun.attempt"
        assert entry["level"] == "info"
        assert entry["timestamp"].endswith("Z")
        assert {k: entry[k] for k in ("chunk", "job_id", "attempt", "code", "outcome")} == {
            "chunk": "1:2024-01-01:2024-01-07:abc",
            "job_id": 1,
            "attempt": 2,
            "code": "Throttling.User",
            "outcome": "retrying",
        }
        assert entry["elapsed_ms"] == 12.3
        assert entry["http_status"] == 400


def test_console_lines_and_levels(restore_structlog, monkeypatch) -> None:
    configure("console")
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    EventSink().emit(attempt())
    EventSink().emit(
        ChunkFinished("k", 1, "failed", 3, "REQ", 500, "jobId=1 is not existed", "refused")
    )
    lines = stream.getvalue().splitlines()
    assert "rerun.attempt" in lines[0]
    assert "outcome=retrying" in lines[0]
    assert "rerun.chunk.failed" in lines[1]
    assert "warning" in lines[1]


def test_live_line_shows_progress_rate_and_eta() -> None:
    clock = FakeClock()
    stats = RunStats()
    stats.by_status[ChunkStatus.PENDING] = 90
    stats.by_status[ChunkStatus.SUCCEEDED] = 8
    stats.by_status[ChunkStatus.FAILED] = 1
    stats.by_status[ChunkStatus.UNKNOWN] = 1
    limiter = RateLimiter(2.0, clock=clock)
    progress = LiveProgress(stats, limiter, clock, Console(file=io.StringIO()))
    progress.render()  # first sample
    clock.advance(10.0)
    stats.attempts = 15
    text = progress.render().plain
    assert "9/100 done (9.0%)" in text  # succeeded and failed; unknown is not done
    assert "failed 1" in text
    assert "unknown 1" in text
    assert "rate 90/min (limit 120 of 120/min)" in text
    assert "ETA 1 min" in text  # 90 pending at 1.5 calls/s


def test_live_line_counts_calls_on_the_wire_apart_from_doubts() -> None:
    """Issue 11: in-flight calls read as "unknown", flickering 0..concurrency."""
    clock = FakeClock()
    stats = RunStats()
    stats.by_status[ChunkStatus.PENDING] = 10
    stats.by_status[ChunkStatus.IN_FLIGHT] = 5  # 4 on the wire now, 1 left by a crash
    stats.on_wire = 4
    progress = LiveProgress(
        stats, RateLimiter(2.0, clock=clock), clock, Console(file=io.StringIO())
    )
    text = progress.render().plain
    assert "in flight 4  pending 10  unknown 1" in text
    assert "0/15 done" in text


def test_live_line_before_the_plan_is_counted_is_not_a_full_bar() -> None:
    """Issue 11: "0/0 done (100.0%)" during start-up."""
    clock = FakeClock()
    progress = LiveProgress(
        RunStats(), RateLimiter(2.0, clock=clock), clock, Console(file=io.StringIO())
    )
    assert progress.render().plain == "starting…"


def result(**counts: int) -> RunResult:
    return RunResult(
        plan="p",
        counts=StatusCounts(**counts),
        attempts=7,
        retries=2,
        throttled=1,
        reconciled=1,
        stopped=False,
        elapsed_seconds=75.0,
    )


def test_plain_summary_lists_problems(make_record) -> None:
    out = io.StringIO()
    bad = make_record(ChunkStatus.FAILED, code=500, reason="rejected: jobId=7 is not existed")
    write_summary(result(total=5, succeeded=3, failed=2), [bad], out, rich=False)
    text = out.getvalue()
    assert "plan p: 5 total, 3 succeeded, 2 failed, 0 unknown, 0 pending" in text
    assert "this run: 7 calls, 2 retries, 1 throttled, 1 reconciled, 1 min" in text
    assert "jobId=7 is not existed" in text
    assert "... and 1 more" in text
    assert "--retry-failed" in text
    rich_out = io.StringIO()
    write_summary(result(total=5, succeeded=5), [], rich_out, rich=True)
    assert "every chunk of the plan has succeeded" in rich_out.getvalue()


def test_exit_codes() -> None:
    assert result(total=2, succeeded=2).exit_code == 0
    assert result(total=2, succeeded=1, pending=1).exit_code == 1
    assert result(total=2, succeeded=1, unknown=1).exit_code == 1
    stopped = RunResult("p", StatusCounts(total=1, succeeded=1), 0, 0, 0, 0, True, 0.0)
    assert stopped.exit_code == 130


@pytest.fixture
def make_record(write_plan):
    plan = write_plan(jobs=[7], days=7)
    chunk = next(plan.chunks())

    def make(status: ChunkStatus, **fields: object) -> ChunkRecord:
        return ChunkRecord(chunk, status, attempts=1, **fields)  # type: ignore[arg-type]

    return make
