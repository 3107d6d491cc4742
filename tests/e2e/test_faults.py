"""After-commit faults: the server applies the rerun, then answers 500, resets the
connection, or answers late. A blind retry would rerun those days twice; the journal's
reconciliation must find the instances instead."""

from __future__ import annotations

import json
from datetime import date

import pytest

pytestmark = pytest.mark.slow

START, DAYS = date(2024, 2, 1), 12
JOBS = [101, 102, 103, 104, 105]


# GetJobInstanceList's StartTimestamp/EndTimestamp filter and order are undocumented: the
# simulator serves either reading, and reconciliation must be right under each (a page
# cap forces it through several pages).
READINGS = [
    ("schedule_time", "newest_first", None),
    ("schedule_time", "oldest_first", 3),
    ("data_time", "newest_first", 3),
    ("data_time", "oldest_first", None),
]


@pytest.mark.parametrize(("reading", "order", "page_cap"), READINGS)
def test_after_commit_faults_end_with_no_duplicate(e2e, reading, order, page_cap) -> None:
    faults = [
        {"kind": "internal_error_after_commit", "every_nth": 3, "actions": ["RerunJob"]},
        {"kind": "reset_after_commit", "every_nth": 4, "actions": ["RerunJob"]},
        {"kind": "slow_after_commit", "every_nth": 5, "actions": ["RerunJob"], "delay_seconds": 1},
    ]
    config = e2e.base_config(faults=faults, instance_list_filter=reading, instance_list_order=order)
    if page_cap:
        config["instance_list_max_page_size"] = page_cap
    sim = e2e.simulator(config)
    plan = e2e.plan("faults", JOBS, start=START, days=DAYS, chunk_days=4)
    journal, report = e2e.tmp / "faults.sqlite", e2e.tmp / "report.json"
    args = e2e.run_args(plan, sim.url, journal)

    results = [e2e.run(*args, "--report", str(report), timeout=90)]
    # A chunk may end unknown when a reconciliation query itself fails; the contract's
    # answer is to run again, which checks it first.
    while results[-1].returncode == 1 and len(results) < 3:
        results.append(e2e.run(*args, "--report", str(report), timeout=90))
    assert results[-1].returncode == 0, results[-1].stderr[-3000:]

    e2e.assert_exactly_once(sim, JOBS, START, DAYS)
    data = json.loads(report.read_text())
    assert data["counts"] == {"total": 15, "succeeded": 15, "failed": 0, "unknown": 0, "pending": 0}
    # The faults did fire, and reconciliation proved the ambiguous calls applied: their
    # chunks carry the instance ids it found, one per day.
    reconciled = [c for c in data["chunks"] if c["instance_ids"]]
    assert reconciled, "no chunk was settled by reconciliation: did the faults fire?"
    instances = {row["instance_id"]: row for row in sim.instances()}
    for chunk in reconciled:
        rows = [instances[i] for i in chunk["instance_ids"]]
        assert {row["job_id"] for row in rows} == {chunk["job_id"]}
        assert len(rows) == 4  # one instance per day of the chunk
    # Every accepted RerunJob call created its days once: no chunk was sent twice.
    calls = sim.calls()
    assert len(calls) == 15
