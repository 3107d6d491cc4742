"""What `run` leaves behind for a person: a quiet console and a complete JSON-lines log file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import structlog

from rerun_orchestrator.cli import main

PLAN = """\
version: 1
name: logging
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns-1
group: g1
data_time: "10:00:00"
chunk_days: 2
targets:
  - jobs: [1, 2]
    windows: [{start: 2024-01-01, end: 2024-01-06}]
execution: {rate: 50/s}
"""


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    return path


def _run(plan: Path, tmp_path: Path, *extra: str) -> int:
    journal = tmp_path / "j.sqlite"
    return main(
        ["run", str(plan), "--simulate", "--journal", str(journal), "--no-progress", *extra]
    )


def test_console_hides_routine_successes_and_the_log_file_keeps_every_attempt(
    plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(plan, tmp_path) == 0

    err = capsys.readouterr().err
    assert "rerun.run.finished" in err
    assert "rerun.attempt" not in err
    assert "rerun.chunk.succeeded" not in err
    assert "rerun.reconcile.query" not in err  # the watcher's pages: noise on a console
    events = [
        json.loads(line) for line in (tmp_path / "j.sqlite.log.jsonl").read_text().splitlines()
    ]
    assert any(e["event"] == "rerun.reconcile.query" for e in events)
    attempts = [e for e in events if e["event"] == "rerun.attempt"]
    assert len(attempts) == 6  # 2 jobs x 3 chunks, one attempt each
    assert all(e["request_id"] and e["outcome"] == "succeeded" for e in attempts)
    assert sum(e["event"] == "rerun.chunk.succeeded" for e in events) == 6


def test_verbose_console_shows_every_attempt_and_the_log_file_appends(
    plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "custom.jsonl"
    assert _run(plan, tmp_path, "--verbose", "--log-file", str(log)) == 0
    assert capsys.readouterr().err.count("rerun.attempt") == 6

    assert _run(plan, tmp_path, "--log-file", str(log)) == 0  # resume: nothing left to send
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert events.count("rerun.attempt") == 6
    assert events.count("rerun.run.finished") == 2


def test_json_format_on_stderr_stays_unfiltered(
    plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(plan, tmp_path, "--log-format", "json") == 0
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    assert sum(e["event"] == "rerun.attempt" for e in lines) == 6


def test_the_command_restores_the_logging_it_found(plan: Path, tmp_path: Path) -> None:
    before = structlog.get_config()["processors"]
    assert _run(plan, tmp_path) == 0
    assert structlog.get_config()["processors"] == before
    structlog.get_logger("after").info("still.works")  # no closed log file in the pipeline
