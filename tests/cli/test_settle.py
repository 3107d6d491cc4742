"""`settle`: a person's verdict on doubtful chunks, all or nothing, never on a live run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rerun_orchestrator.cli import ExitCode, main
from rerun_orchestrator.journal import ChunkStatus, SqliteJournal
from rerun_orchestrator.plan import Plan, check_plan_text

PLAN = """\
version: 1
name: settle
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns-1
group: g1
data_time: "10:00:00"
chunk_days: 2
targets:
  - jobs: [1]
    windows: [{start: 2024-01-01, end: 2024-01-06}]
execution: {rate: 50/s}
"""


@pytest.fixture
def plan_path(tmp_path: Path) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    return path


@pytest.fixture
def plan(plan_path: Path) -> Plan:
    plan, diagnostics = check_plan_text(PLAN, str(plan_path))
    assert plan is not None, diagnostics
    return plan


@pytest.fixture
def journal_path(tmp_path: Path, plan: Plan) -> Path:
    """A journal whose three chunks are unknown, succeeded and failed."""
    path = tmp_path / "j.sqlite"
    keys = [chunk.key for chunk in plan.chunks()]
    with SqliteJournal.open(path, plan_name=plan.name, plan_digest=plan.digest) as journal:
        journal.sync(plan.chunks())
        journal.record_outcome(keys[0], ChunkStatus.UNKNOWN, reason="partial days")
        journal.record_outcome(keys[1], ChunkStatus.SUCCEEDED, request_id="R1")
        journal.record_outcome(keys[2], ChunkStatus.FAILED, code=500, message="no such job")
    return path


def _statuses(path: Path) -> dict[str, ChunkStatus]:
    with SqliteJournal.open_readonly(path) as journal:
        return {record.key: record.status for record in journal.records()}


def test_an_unknown_chunk_settled_as_succeeded_keeps_the_reason(
    journal_path: Path, plan: Plan, capsys: pytest.CaptureFixture[str]
) -> None:
    key = next(plan.chunks()).key
    args = ["settle", "--journal", str(journal_path), key, "--as", "succeeded"]
    assert main([*args, "--reason", "seen in the console by alice"]) == ExitCode.OK
    assert f"{key}: succeeded" in capsys.readouterr().out
    with SqliteJournal.open_readonly(journal_path) as journal:
        record = journal.get(key)
    assert record is not None
    assert record.status is ChunkStatus.SUCCEEDED
    assert record.reason is not None
    assert "seen in the console by alice" in record.reason
    assert "was unknown" in record.reason


def test_settling_is_all_or_nothing(
    journal_path: Path, plan: Plan, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown, succeeded, _ = (chunk.key for chunk in plan.chunks())
    before = _statuses(journal_path)
    args = ["settle", "--journal", str(journal_path), unknown, succeeded]
    assert main([*args, "--as", "pending", "--reason", "r"]) == ExitCode.USAGE
    assert f"chunk {succeeded} is succeeded" in capsys.readouterr().err
    args = ["settle", "--journal", str(journal_path), unknown, "no-such-key"]
    assert main([*args, "--as", "pending", "--reason", "r"]) == ExitCode.USAGE
    assert "no chunk 'no-such-key'" in capsys.readouterr().err
    assert _statuses(journal_path) == before


def test_a_journal_held_by_a_run_is_refused(
    journal_path: Path, plan: Plan, capsys: pytest.CaptureFixture[str]
) -> None:
    key = next(plan.chunks()).key
    with SqliteJournal.open(journal_path, plan_name=plan.name, plan_digest=plan.digest):
        args = ["settle", "--journal", str(journal_path), key, "--as", "pending"]
        assert main([*args, "--reason", "r"]) == ExitCode.JOURNAL_BUSY == 75
    assert "in use by pid" in capsys.readouterr().err
    assert _statuses(journal_path)[key] is ChunkStatus.UNKNOWN


def test_a_chunk_settled_as_pending_is_sent_by_the_next_run(
    journal_path: Path, plan_path: Path, plan: Plan, tmp_path: Path
) -> None:
    unknown, _, failed = (chunk.key for chunk in plan.chunks())
    args = ["settle", "--journal", str(journal_path), unknown, failed, "--as", "pending"]
    assert main([*args, "--reason", "no instances in the console"]) == ExitCode.OK
    report = tmp_path / "report.json"
    run = ["run", str(plan_path), "--simulate", "--journal", str(journal_path), "--no-progress"]
    assert main([*run, "--report", str(report)]) == ExitCode.OK
    chunks = {c["key"]: c for c in json.loads(report.read_text())["chunks"]}
    assert chunks[unknown]["status"] == "succeeded"
    assert chunks[unknown]["attempts"] == 1
    assert chunks[failed]["status"] == "succeeded"
