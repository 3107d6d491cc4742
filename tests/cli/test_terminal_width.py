"""What a person reads on an 80-column terminal fits it: the live progress lines (figures
packed, never one cut in two) and the end-of-run summary."""

from __future__ import annotations

import io
import re

import pytest
import structlog
from rich.console import Console

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator._logsetup import configure
from rerun_orchestrator.journal import ChunkRecord, ChunkStatus
from rerun_orchestrator.plan import check_plan_text
from rerun_orchestrator.run._limiter import RateLimiter
from rerun_orchestrator.run._progress import LiveProgress, pack, write_summary
from rerun_orchestrator.run._result import RunResult, RunStats, StatusCounts

PLAN = """\
version: 1
name: orders-2024-backfill-of-a-long-name
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: adcfc35d-e2fe-4fe9-bbaa-20e90ffc1234
group: testSchedulerx.defaultGroup
data_time: "10:00:00"
targets:
  - jobs: [123456789]
    windows: [{start: 2024-01-01, end: 2024-01-07}]
"""


def big_stats() -> RunStats:
    stats = RunStats()
    stats.by_status[ChunkStatus.PENDING] = 212_345
    stats.by_status[ChunkStatus.SUCCEEDED] = 61_234
    stats.by_status[ChunkStatus.FAILED] = 1_234
    stats.by_status[ChunkStatus.UNKNOWN] = 123
    stats.by_status[ChunkStatus.IN_FLIGHT] = 4
    stats.on_wire = 4
    stats.throttled = 12_345
    stats.waiting = "waiting for the window mon-fri 01:00-06:00 (opens in 3 h 12 min)"
    return stats


@pytest.mark.parametrize("width", [80, 60, 120])
def test_the_progress_lines_fit_the_width_and_keep_every_figure_whole(width: int) -> None:
    clock = FakeClock()
    stats = big_stats()
    console = Console(file=io.StringIO(), width=width)
    progress = LiveProgress(stats, RateLimiter(100 / 60, clock=clock), clock, console)
    progress.render()
    clock.advance(30.0)
    stats.attempts = 49
    lines = progress.render().plain.splitlines()
    assert all(len(line) <= width for line in lines), lines
    assert len(lines) <= {80: 3, 60: 5, 120: 3}[width]
    figures = [part for line in lines for part in line.split("  ")]
    for whole in (
        "62468/274940 done (22.7%)",
        "succeeded 61234",
        "pending 212345",
        "unknown 123",
        "rate 98/min (limit 100 of 100/min)",
        "throttled 12345",
    ):
        assert whole in figures, (whole, lines)


def test_pack_cuts_only_a_segment_wider_than_a_line() -> None:
    text = pack([("a" * 10, ""), ("b" * 30, ""), ("c" * 5, "")], width=20).plain
    assert text.splitlines() == ["a" * 10, "b" * 19 + "…", "c" * 5]


def test_the_summary_on_an_80_column_terminal_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    plan, _ = check_plan_text(PLAN, "p.yaml")
    assert plan is not None
    chunk = next(plan.chunks())
    why = "rejected by the server: " + "jobId=123456789 is not existed in this namespace " * 3
    problems = [
        ChunkRecord(chunk, ChunkStatus.FAILED, attempts=6, code="InvalidParameter", reason=why)
    ] * 3
    result = RunResult(
        plan=plan.name,
        counts=StatusCounts(total=274_940, succeeded=273_000, failed=1_234, pending=706),
        attempts=274_000,
        retries=12_345,
        throttled=12_345,
        reconciled=123,
        stopped=False,
        elapsed_seconds=2 * 86_400.0,
        instances={"success": 273_000, "failed": 12, "unknown": 3},
        undecided=4,
    )
    out = io.StringIO()
    write_summary(result, problems, out, rich=True)
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80, "\n".join(lines)
    assert any("273000" in line for line in lines)


def test_console_log_lines_leave_the_width_to_the_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    saved = structlog.get_config()
    try:
        configure("console")
        structlog.get_logger().warning("rerun.throttle", rate=1.16667, rate_text="70/min")
    finally:
        structlog.configure(**saved)
    line = capsys.readouterr().err.splitlines()[-1]
    # 05:15:51Z [warning] rerun.throttle         rate=1.16667 rate_text=70/min
    shape = r"\d\d:\d\d:\d\dZ \[warning\] rerun\.throttle +rate=1\.16667 rate_text=70/min"
    assert re.fullmatch(shape, line), line
    assert line.index("rate=") <= 43  # was 70: 27 for the date, 10 for the level, 30 pad
