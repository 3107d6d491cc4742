"""Watching: each day's rerun instance followed to its end, against the simulator's record.

The simulator runs in its own process with short, spread durations (tenths of a second),
so these tests wait for real but never more than a few seconds. What the report says is
compared with `/_simulator/instances`, never with the journal.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
import urllib.request
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

RERUN = 2
WATCH = ("--watch-poll", "0.1")
WORDS = {1: "waiting", 3: "running", 4: "success", 5: "failed", 9: "rejected"}


def _report(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _reruns(sim: Any, jobs: set[int]) -> dict[tuple[int, str], list[dict[str, Any]]]:
    out: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for row in sim.instances():
        if row["trigger_type"] == RERUN and row["job_id"] in jobs:
            out.setdefault((row["job_id"], row["data_time"][:10]), []).append(row)
    return out


def _assert_days_match(report: dict[str, Any], sim: Any, jobs: set[int]) -> None:
    """Every day of the report names the simulator's one instance of it, with its status."""
    reruns = _reruns(sim, jobs)
    days = {(d["job_id"], d["day"]): d for d in report["days"]}
    assert days.keys() == reruns.keys()
    for key, rows in reruns.items():
        assert len(rows) == 1, f"{key}: {len(rows)} rerun instances"
        entry, row = days[key], rows[0]
        assert entry["instance_id"] == row["instance_id"], key
        assert entry["instance_status"] == WORDS[row["status"]], (key, entry, row)


def _sim_config(e2e: Any, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = e2e.base_config(
        ("1-20",),
        instance_wait_seconds=0,
        instance_run_seconds=0.3,
        instance_run_spread=0.5,
        **extra,
    )
    config["quota"]["RetryJobInstance"] = "10000/s"
    return config


def test_failures_are_reported_per_day_and_retried_in_place(e2e: Any) -> None:
    # 15% first-attempt failures, a scheduled history long enough to be pruned to 300.
    config = _sim_config(e2e, failure_rate=0.15, retry_failure_rate=0.0, history_limit=300, seed=7)
    config["jobs"][0]["history"] = {"start": "2023-01-01", "end": "2023-12-31"}
    sim = e2e.simulator(config)
    jobs = [1, 2, 3, 4]
    plan = e2e.plan("watched", jobs, start=date(2024, 3, 1), days=10, chunk_days=5)
    journal, report = e2e.tmp / "j.db", e2e.tmp / "report.json"

    first = e2e.run(*e2e.run_args(plan, sim.url, journal, *WATCH, "--report", str(report)))
    data = _report(report)
    failed_on_sim = [key for key, rows in _reruns(sim, set(jobs)).items() if rows[0]["status"] == 5]
    assert failed_on_sim, "the seed must fail some first attempts"
    assert first.returncode == 1, first.stdout + first.stderr
    _assert_days_match(data, sim, set(jobs))
    counts = data["instance_counts"]
    assert counts == {"failed": len(failed_on_sim), "success": 40 - len(failed_on_sim)}
    grouped = {(g["job_id"], d["day"]) for g in data["failed_days"] for d in g["days"]}
    assert grouped == set(failed_on_sim)
    assert "not every day's instance succeeded" in first.stdout
    shown = e2e.run(
        "status", "--journal", str(journal), "--days", "--status", "failed", "--format", "json"
    )
    assert shown.returncode == 0, shown.stderr
    listed = json.loads(shown.stdout)
    assert {(d["job_id"], d["day"]) for d in listed["days"]} == set(failed_on_sim)
    assert listed["instance_counts"] == {"failed": len(failed_on_sim)}
    one_job = e2e.run("status", "--journal", str(journal), "--days", "--job", "2")
    assert one_job.returncode == 0, one_job.stderr
    assert "10 days" in one_job.stdout, one_job.stdout

    again = e2e.run(
        *e2e.run_args(plan, sim.url, journal, *WATCH, "--retry-failed", "--report", str(report))
    )
    assert again.returncode == 0, again.stdout + again.stderr
    data = _report(report)
    _assert_days_match(data, sim, set(jobs))
    assert data["instance_counts"] == {"success": 40}
    retries = Counter(r["instance_id"] for r in _get(sim, "/_simulator/retries"))
    assert sorted(retries.values()) == [1] * len(failed_on_sim)  # each failed day once
    assert len(sim.calls()) == 8  # no RerunJob resent: 4 jobs x 2 chunks
    e2e.assert_exactly_once(sim, jobs, date(2024, 3, 1), 10)


def test_rejected_instances_are_retried_until_capacity_frees(e2e: Any) -> None:
    config = _sim_config(e2e, over_concurrency="reject")
    config["jobs"][0]["max_concurrency"] = 2
    sim = e2e.simulator(config)
    plan = e2e.plan("rejects", [5], start=date(2024, 3, 1), days=6, chunk_days=6)
    journal, report = e2e.tmp / "j.db", e2e.tmp / "report.json"

    # Rejected for lack of capacity: retried in place (RetryJobInstance) as the job's other
    # instances end, within the same run, not reported failed (issue 16).
    first = e2e.run(*e2e.run_args(plan, sim.url, journal, *WATCH, "--report", str(report)))
    assert first.returncode == 0, first.stdout + first.stderr[-2000:]
    assert "rejected for lack of capacity were retried in place" in first.stdout
    data = _report(report)
    _assert_days_match(data, sim, {5})
    assert data["instance_counts"] == {"success": 6}
    assert len(sim.calls()) == 1
    e2e.assert_exactly_once(sim, [5], date(2024, 3, 1), 6)


def test_an_instance_pruned_before_it_was_seen_is_unknown_with_why(e2e: Any) -> None:
    # One slot, six days at once, a history of three: the three oldest are pruned at once.
    config = _sim_config(e2e, history_limit=3)
    config["jobs"][0]["max_concurrency"] = 1
    sim = e2e.simulator(config)
    plan = e2e.plan("pruned", [6], start=date(2024, 3, 1), days=6, chunk_days=6)
    journal, report = e2e.tmp / "j.db", e2e.tmp / "report.json"
    args = e2e.run_args(plan, sim.url, journal, *WATCH, "--report", str(report))
    done = e2e.run(*args, "--appear-seconds", "1")
    assert done.returncode == 1
    data = _report(report)
    pruned = {key for key, rows in _reruns(sim, {6}).items() if rows[0]["pruned"]}
    unknown = {(d["job_id"], d["day"]) for d in data["days"] if d["instance_status"] == "unknown"}
    assert pruned
    assert unknown == pruned
    assert all("appeared within" in d["reason"] for d in data["failed_days"][0]["days"])


def test_no_watch_returns_once_accepted_and_a_later_run_watches(e2e: Any) -> None:
    config = _sim_config(e2e)
    config["instance_run_seconds"] = 2.0
    sim = e2e.simulator(config)
    plan = e2e.plan("later", [7, 8], start=date(2024, 3, 1), days=4, chunk_days=4)
    journal, report = e2e.tmp / "j.db", e2e.tmp / "report.json"
    quick = e2e.run(*e2e.run_args(plan, sim.url, journal, "--no-watch", "--report", str(report)))
    assert quick.returncode == 0, quick.stdout + quick.stderr
    assert {d["instance_status"] for d in _report(report)["days"]} == {None}
    later = e2e.run(*e2e.run_args(plan, sim.url, journal, *WATCH, "--report", str(report)))
    assert later.returncode == 0, later.stdout + later.stderr
    _assert_days_match(_report(report), sim, {7, 8})
    assert len(sim.calls()) == 2


def test_kill_9_while_watching_loses_no_outcome(e2e: Any) -> None:
    config = _sim_config(e2e, failure_rate=0.3, seed=3)
    config["instance_run_seconds"] = 1.5
    config["jobs"][0]["max_concurrency"] = 2
    sim = e2e.simulator(config)
    jobs = [9, 10]
    plan = e2e.plan("killed", jobs, start=date(2024, 3, 1), days=6, chunk_days=3)
    journal, report = e2e.tmp / "j.db", e2e.tmp / "report.json"
    proc = e2e.launch(*e2e.run_args(plan, sim.url, journal, *WATCH))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _ended_rows(journal) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert 2 <= _ended_rows(journal) < 12, "killed mid-watch"
    resumed = e2e.run(*e2e.run_args(plan, sim.url, journal, *WATCH, "--report", str(report)))
    data = _report(report)
    _assert_days_match(data, sim, set(jobs))
    assert data["instance_counts"].get("null", 0) == 0
    failed = sum(1 for d in data["days"] if d["instance_status"] == "failed")
    assert resumed.returncode == (1 if failed else 0)
    assert len(sim.calls()) == 4  # nothing resent


def _ended_rows(journal: Path) -> int:
    if not journal.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=0.1) as conn:
            (n,) = conn.execute(
                "SELECT COUNT(*) FROM day_instances WHERE status IN ('success', 'failed')"
            ).fetchone()
    except sqlite3.Error:
        return 0
    return int(n)


def _get(sim: Any, path: str) -> Any:
    with urllib.request.urlopen(sim.url + path, timeout=10) as response:  # loopback only
        return json.loads(response.read())
