"""`status` and `--retry-failed` end to end, and the run lock between two processes."""

from __future__ import annotations

import json
import signal
import time
from datetime import date

import pytest

pytestmark = pytest.mark.slow

START, DAYS = date(2024, 3, 1), 6


def test_status_then_retry_failed(e2e) -> None:
    # Job 999 does not exist (yet): its chunks fail permanently, the others succeed.
    sim = e2e.simulator(e2e.base_config(["1-200"]), name="before")
    plan = e2e.plan("retry", [1, 2, 999], start=START, days=DAYS, chunk_days=3)
    journal, report = e2e.tmp / "retry.sqlite", e2e.tmp / "report.json"
    first = e2e.run(*e2e.run_args(plan, sim.url, journal, "--report", str(report)))
    assert first.returncode == 1, first.stderr[-3000:]
    counts = json.loads(report.read_text())["counts"]
    assert counts == {"total": 6, "succeeded": 4, "failed": 2, "unknown": 0, "pending": 0}

    status = e2e.run("status", "--journal", str(journal), "--format", "json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["counts"]["failed"] == 2
    assert data["counts"]["succeeded"] == 4
    assert len(data["failures"]) == 1
    failure = data["failures"][0]
    assert failure["count"] == 2
    assert "999" in (failure["sample_message"] or "")
    assert data["unknown"] == []

    table = e2e.run("status", "--journal", str(journal))
    assert table.returncode == 0
    assert "Failures by code" in table.stdout
    assert "--retry-failed" in table.stdout

    # The job now exists (a new simulator: the old one's instances are not needed).
    sim.stop()
    after = e2e.simulator(e2e.base_config(["1-200", 999]), name="after")
    again = e2e.run(*e2e.run_args(plan, after.url, journal))
    assert again.returncode == 1  # failed chunks are not resent without the flag
    assert after.calls() == []

    retried = e2e.run(
        *e2e.run_args(plan, after.url, journal, "--retry-failed", "--report", str(report))
    )
    assert retried.returncode == 0, retried.stderr[-3000:]
    assert [c["job_id"] for c in after.calls()] == [999, 999]
    e2e.assert_exactly_once(after, [999], START, DAYS)
    assert sum(e2e.rerun_days(after, [1, 2]).values()) == 0  # the succeeded ones: never resent
    final = json.loads(report.read_text())
    assert final["counts"]["succeeded"] == 6
    attempts = {c["job_id"]: c["attempts"] for c in final["chunks"]}
    assert attempts[999] == 2  # attempts count over every run of the journal
    assert attempts[1] == 1


def test_missing_journal_status_is_a_clear_error(e2e) -> None:
    result = e2e.run("status", "--journal", str(e2e.tmp / "none.sqlite"))
    assert result.returncode == 2
    assert "no journal at" in result.stderr


def test_a_second_run_on_the_same_journal_is_refused(e2e) -> None:
    sim = e2e.simulator()
    jobs = [61, 62]
    # Slow on purpose (1 call/s), so that the first run is still going.
    plan = e2e.plan("locked", jobs, start=START, days=DAYS, chunk_days=1, rate="1/s")
    journal = e2e.tmp / "locked.sqlite"
    args = e2e.run_args(plan, sim.url, journal)
    first = e2e.launch(*args)
    try:
        deadline = time.monotonic() + 30
        while not sim.calls() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sim.calls(), "the first run never sent anything"
        second = e2e.run(*args)
        assert second.returncode == 75, second.stderr  # busy: try later, not a bad plan
        assert f"in use by pid {first.pid}" in second.stderr
        calls_before = len(sim.calls())
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    # Nothing was corrupted: a resume (the lock died with the first run) finishes the plan.
    assert len(sim.calls()) >= calls_before
    fast = e2e.plan("locked", jobs, start=START, days=DAYS, chunk_days=1, rate="100/s")
    resumed = e2e.run(*e2e.run_args(fast, sim.url, journal))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    e2e.assert_exactly_once(sim, jobs, START, DAYS)
