"""The JSON log file: every event kept, flushes batched, failures and exit never lost."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from rerun_orchestrator import _logsetup
from rerun_orchestrator._logsetup import _JsonLinesTee, close_log_file, configure


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0
        self.flushed = ""

    def flush(self) -> None:
        self.flushes += 1
        self.flushed = self.getvalue()


@pytest.fixture
def restore_structlog() -> Iterator[None]:
    saved = structlog.get_config()
    yield
    close_log_file()
    structlog.configure(**saved)


def routine(tee: _JsonLinesTee, n: int) -> None:
    for i in range(n):
        tee(None, "info", {"event": "rerun.attempt", "outcome": "succeeded", "n": i})


@pytest.mark.asyncio
async def test_routine_lines_are_flushed_together_on_a_short_timer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_logsetup, "FLUSH_SECONDS", 0.0)  # the timer fires on the next pass
    stream = CountingStream()
    tee = _JsonLinesTee(stream)
    routine(tee, 3000)
    assert stream.flushes == 0  # written to the buffer, not yet pushed out
    for _ in range(3):
        await asyncio.sleep(0)  # let the loop run its timer (no time passes)
    assert stream.flushes == 1
    lines = stream.flushed.splitlines()
    assert len(lines) == 3000
    assert json.loads(lines[-1]) == {"event": "rerun.attempt", "outcome": "succeeded", "n": 2999}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "event"),
    [
        ("warning", {"event": "rerun.throttle"}),
        ("info", {"event": "rerun.attempt", "outcome": "failed"}),
        ("info", {"event": "rerun.attempt", "outcome": "unknown"}),
        ("info", {"event": "rerun.attempt", "outcome": "retrying"}),
        ("error", {"event": "rerun.run.crashed"}),
    ],
)
async def test_a_failure_is_flushed_at_once_with_everything_before_it(
    method: str, event: dict[str, Any]
) -> None:
    stream = CountingStream()
    tee = _JsonLinesTee(stream)
    routine(tee, 5)
    tee(None, method, event)
    assert stream.flushes == 1
    assert len(stream.flushed.splitlines()) == 6


def test_without_an_event_loop_every_line_is_flushed() -> None:
    stream = CountingStream()
    tee = _JsonLinesTee(stream)
    routine(tee, 2)
    assert stream.flushes == 2


@pytest.mark.asyncio
async def test_a_timer_left_on_a_finished_loop_does_not_strand_lines() -> None:
    stream = CountingStream()
    tee = _JsonLinesTee(stream)
    routine(tee, 1)  # arms a timer on this loop

    async def later() -> None:
        routine(tee, 1)  # another loop: arms its own timer
        tee.flush()

    await asyncio.to_thread(asyncio.run, later())
    assert len(stream.flushed.splitlines()) == 2


@pytest.mark.usefixtures("restore_structlog")
@pytest.mark.asyncio
async def test_closing_the_log_file_flushes_what_is_pending(tmp_path: Path) -> None:
    path = tmp_path / "run.log.jsonl"
    configure("json", log_file=path)
    structlog.get_logger().info("rerun.attempt", outcome="succeeded", chunk="c1")
    assert path.read_text() == ""  # batched: not on disk yet
    close_log_file()
    (line,) = path.read_text().splitlines()
    assert json.loads(line)["chunk"] == "c1"
