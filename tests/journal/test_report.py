"""The run report and `status`: what a user reads after a run, and the CLI around it."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import date, timedelta

import anyio
import pytest

from rerun_orchestrator.cli import main
from rerun_orchestrator.journal import (
    ChunkStatus,
    MemoryJournal,
    SqliteJournal,
    build_report,
    render_status,
)

D0 = date(2024, 1, 1)


def _fill(j, chunk) -> list:
    """A journal with one chunk in every state, two failures sharing a code, an orphan."""
    chunks = [chunk(job, D0 + timedelta(days=job), 2) for job in range(1, 9)]
    j.sync(chunks)
    outcomes = [
        (ChunkStatus.SUCCEEDED, {"request_id": "R1", "code": 200}),
        (ChunkStatus.FAILED, {"request_id": "R2", "code": -1, "message": "jobId=2 is not existed"}),
        (ChunkStatus.FAILED, {"request_id": "R3", "code": -1, "message": "jobId=3 is not existed"}),
        (ChunkStatus.FAILED, {"code": "Forbidden.RAM", "message": "denied"}),
        (ChunkStatus.UNKNOWN, {"code": "InternalError", "reason": "found for only 1 of 2 day(s)"}),
    ]
    for c, (status, fields) in zip(chunks, outcomes, strict=False):
        anyio.run(j.mark_in_flight, c.key, 1_700_000_000.0)
        j.record_outcome(c.key, status, **fields)
    anyio.run(j.mark_in_flight, chunks[5].key, 1_700_000_100.0)  # died in flight
    j.record_outcome(
        chunks[0].key, ChunkStatus.SUCCEEDED, reason="reconciled", instance_ids=[42, 41]
    )
    j.sync(chunks[:7])  # the plan lost its last chunk: an orphan
    return chunks


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_report_follows_the_contract(tmp_path, chunk, kind) -> None:
    if kind == "sqlite":
        j = SqliteJournal.open(tmp_path / "j.sqlite", plan_name="orders", plan_digest="d")
    else:
        j = MemoryJournal(plan_name="orders")
    chunks = _fill(j, chunk)
    report = build_report(j, plan_name="orders", keys=[c.key for c in reversed(chunks[:7])])
    j.close()

    assert report["plan"] == "orders"
    assert report["counts"] == {
        "total": 7,
        "succeeded": 1,
        "failed": 3,
        "unknown": 2,  # the unknown one and the one left in flight
        "pending": 1,
    }
    assert [e["key"] for e in report["chunks"]] == [c.key for c in reversed(chunks[:7])]
    first = report["chunks"][-1]
    assert list(first) == [
        "key",
        "job_id",
        "start_date",
        "end_date",
        "status",
        "attempts",
        "request_id",
        "code",
        "message",
        "instance_ids",
        "reason",
        "region",
        "namespace",
        "namespace_source",
        "group_id",
        "first_day",
        "last_day",
        "attempt_started_at",
        "updated_at",
    ]
    ours = ("region", "namespace", "namespace_source", "group_id", "first_day", "last_day")
    where = ["cn-hangzhou", "ns-1", None, "g1", "2024-01-02", "2024-01-03"]
    assert [first[k] for k in ours] == where
    assert {k: v for k, v in first.items() if k not in ours and not k.endswith("_at")} == {
        "key": chunks[0].key,
        "job_id": 1,
        "start_date": chunks[0].start_date,
        "end_date": chunks[0].end_date,
        "status": "succeeded",
        "attempts": 1,
        "request_id": "R1",
        "code": None,
        "message": None,
        "instance_ids": [41, 42],
        "reason": "reconciled",
    }
    by_job = {e["job_id"]: e for e in report["chunks"]}
    assert by_job[2]["code"] == -1
    assert by_job[4]["code"] == "Forbidden.RAM"
    assert by_job[6]["status"] == "unknown"
    assert json.loads(json.dumps(report)) == report


def test_report_without_keys_lists_every_chunk_in_journal_order(chunk) -> None:
    j = MemoryJournal()
    chunks = _fill(j, chunk)
    report = build_report(j, plan_name="p")
    assert [e["key"] for e in report["chunks"]] == [c.key for c in chunks]
    assert report["counts"]["total"] == 8


def test_status_json(tmp_path, chunk) -> None:
    path = tmp_path / "j.sqlite"
    with SqliteJournal.open(path, plan_name="orders", plan_digest="abc") as j:
        chunks = _fill(j, chunk)
    out = io.StringIO()
    with SqliteJournal.open_readonly(path) as j:
        render_status(j, out, fmt="json")
    data = json.loads(out.getvalue())
    assert data["plan"] == "orders"
    assert data["journal"] == str(path)
    assert data["active_run"] is None
    assert data["counts"] == {
        "succeeded": 1,
        "pending": 2,
        "in_flight": 1,
        "failed": 3,
        "unknown": 1,
        "total": 8,
    }
    assert data["failures"] == [
        {
            "code": -1,
            "count": 2,
            "sample_message": "jobId=2 is not existed",
            "sample_key": chunks[1].key,
        },
        {
            "code": "Forbidden.RAM",
            "count": 1,
            "sample_message": "denied",
            "sample_key": chunks[3].key,
        },
    ]
    assert [(u["key"], u["status"]) for u in data["unknown"]] == [
        (chunks[4].key, "unknown"),
        (chunks[5].key, "in_flight"),
    ]
    assert data["unknown"][0]["reason"] == "found for only 1 of 2 day(s)"
    assert data["unknown"][0]["first_day"] == (D0 + timedelta(days=5)).isoformat()
    assert "next run checks it" in data["unknown"][1]["reason"]
    assert data["orphans"] == {"count": 1, "keys": [chunks[7].key]}


def test_status_table_shows_counts_failures_unknowns_and_orphans(tmp_path, chunk) -> None:
    path = tmp_path / "j.sqlite"
    with SqliteJournal.open(path, plan_name="orders", plan_digest="abc") as j:
        chunks = _fill(j, chunk)
        out = io.StringIO()
        render_status(j, out)  # the writer itself may show it too
    text = out.getvalue()
    assert "Plan     orders (digest abc" in text
    assert "  failed     3\n" in text
    assert "  in flight  1\n" in text
    assert "  total      8\n" in text
    assert "  -1                  2  jobId=2 is not existed\n" in text
    assert "  Forbidden.RAM       1  denied\n" in text
    assert "--retry-failed" in text
    assert "Unknown outcomes (2)" in text
    assert "found for only 1 of 2 day(s)" in text
    assert "Orphans (1)" in text
    assert chunks[7].key in text
    assert "Run      in progress" in text  # written while this process held the lock


def test_status_command(tmp_path, chunk, capsys) -> None:
    path = tmp_path / "j.sqlite"
    with SqliteJournal.open(path, plan_name="orders", plan_digest="abc") as j:
        _fill(j, chunk)
    assert main(["status", "--journal", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["total"] == 8
    assert main(["status", "--journal", str(path)]) == 0
    assert "Failures by code" in capsys.readouterr().out


def test_status_of_a_missing_journal_is_a_clear_error(tmp_path, capsys) -> None:
    assert main(["status", "--journal", str(tmp_path / "nope.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "no journal at" in err
    assert "nope.sqlite" in err


@pytest.mark.slow
def test_status_console_script(tmp_path, chunk) -> None:
    path = tmp_path / "j.sqlite"
    with SqliteJournal.open(path, plan_name="orders", plan_digest="abc") as j:
        _fill(j, chunk)
    result = subprocess.run(
        [sys.executable, "-m", "rerun_orchestrator", "status", "--journal", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Unknown outcomes (2)" in result.stdout
