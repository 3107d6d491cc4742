"""Good neighbour through `rerun-orchestrator run`, measured at the simulator (issue 16).

Caps on active instances per job and per group (the peaks the simulator saw), days
rejected for lack of capacity retried in place (none lost), production runs never skipped
where the same plan sent blindly skips some, and nothing sent outside a run window.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

RERUN = 2
START = date(2024, 1, 1)
# the e2e FAST flags without --no-preflight: `auto` and production first need it
FAST = ("--settle-seconds", "0.3", "--read-rate", "200/s", "--no-progress", "--watch-poll", "0.1")

pytestmark = pytest.mark.slow


def _plan(e2e: Any, name: str, jobs: list[int], days: int, **execution: Any) -> Path:
    path: Path = e2e.tmp / f"{name}.yaml"
    plan = {
        "version": 1,
        "name": name,
        "timezone": "Asia/Shanghai",
        "region": "cn-hangzhou",
        "namespace": "ns-1",
        "group": "g1",
        "data_time": "10:00:00",
        "chunk_days": 7,
        "targets": [
            {
                "jobs": jobs,
                "windows": [
                    {"start": START.isoformat(), "end": (START + timedelta(days - 1)).isoformat()}
                ],
            }
        ],
        "execution": {"rate": "100/s", "concurrency": 4, **execution},
    }
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def _config(e2e: Any, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = e2e.base_config(
        ("1-20",), instance_wait_seconds=0, instance_run_seconds=0.3, **extra
    )
    config["quota"]["RetryJobInstance"] = "10000/s"
    return config


def _run(
    e2e: Any, plan: Path, sim: Any, name: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    journal = e2e.tmp / f"{name}.sqlite"
    args = ["run", str(plan), "--endpoint", sim.url, "--journal", str(journal), *FAST, *extra]
    return e2e.run(*args, timeout=90)


def _get(sim: Any, path: str) -> Any:
    return sim._get(path)


def test_peaks_stay_within_the_plan_caps_and_every_day_runs_once(e2e: Any) -> None:
    sim = e2e.simulator(_config(e2e, jobs=[_job([1, 2, 3], max_concurrency=4)]))
    plan = _plan(e2e, "caps", [1, 2, 3], 8, max_active_per_job=2, max_active_per_group=3)
    done = _run(e2e, plan, sim, "caps")
    assert done.returncode == 0, done.stderr[-2000:]
    peaks = _get(sim, "/_simulator/peaks?trigger_type=2")
    per_job = {key: p["active"] for key, p in peaks["jobs"].items()}
    print(f"peak active per job {per_job}, group {peaks['groups']}")
    assert max(per_job.values()) <= 2
    assert peaks["groups"]["cn-hangzhou/ns-1/g1"]["active"] <= 3
    e2e.assert_exactly_once(sim, [1, 2, 3], START, 8)


def test_under_reject_no_day_is_lost(e2e: Any) -> None:
    """The plan allows 3 at once, the server runs 1 and rejects the rest: the rejected days
    are retried in place as slots free, each keeps its one instance, all succeed."""
    # A daily schedule half a day away: production first (MaxConcurrency 1) holds reruns
    # in the minutes before a scheduled run, which by default is at midnight, server time
    # (this test waited for it when run just before midnight in Shanghai: 90 s, failed).
    far = datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(hours=12)
    job = _job([1], max_concurrency=1, cron=f"0 {far.minute} {far.hour} * * ?")
    config = _config(e2e, jobs=[job], over_concurrency="reject")
    sim = e2e.simulator(config)
    plan = _plan(e2e, "reject", [1], 6, max_active_per_job=3)
    report = e2e.tmp / "reject.json"
    done = _run(e2e, plan, sim, "reject", "--report", str(report))
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert "rejected for lack of capacity were retried in place" in done.stdout  # it happened
    e2e.assert_exactly_once(sim, [1], START, 6)  # retried in place: no second instance
    days = json.loads(report.read_text())["days"]
    assert {d["instance_status"] for d in days} == {"success"}


def test_production_first_skips_none_where_blind_dispatch_skips_some(e2e: Any) -> None:
    """MaxConcurrency 1, a production run every 5 s: the wired run sends between them (the
    blind one keeps the job busy for 7 x 0.9 s, longer than the period: a run is skipped).

    The wired run sends about one day per period (an instance is expected to take its
    measured whole seconds plus one: 2 s), so each day costs it 5 s: 7 days, not 14."""
    job = _job([1], max_concurrency=1, cron="0/5 * * * * ?", production=True, run_seconds=0.9)
    counts = {}
    runs = {}  # side by side, each with its simulator: the blind run's 8 s overlap the other's
    for name, extra in (("first", ()), ("blind", ("--no-preflight",))):
        sim = e2e.simulator(_config(e2e, jobs=[job]), name=name)
        plan = _plan(e2e, name, [1], 7)
        journal = e2e.tmp / f"{name}.sqlite"
        args = ["run", str(plan), "--endpoint", sim.url, "--journal", str(journal), *FAST]
        runs[name] = sim, e2e.launch(*args, *extra)
    for name in ("blind", "first"):  # the quicker first: its output never fills a pipe
        sim, child = runs[name]
        _, err = child.communicate(timeout=90)
        assert child.returncode == 0, err[-2000:]
        skipped = _get(sim, "/_simulator/skipped")
        counts[name] = sum(1 for s in skipped if RERUN in s["busy_trigger_types"])
        e2e.assert_exactly_once(sim, [1], START, 7)
    print(f"production runs skipped: {counts['first']} production first, {counts['blind']} blind")
    assert counts["first"] == 0
    assert counts["blind"] > 0


def test_nothing_is_sent_outside_the_window(e2e: Any) -> None:
    sim = e2e.simulator(_config(e2e))
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    opens, closes = now + timedelta(hours=2), now + timedelta(hours=3)
    window = {"days": "daily", "start": f"{opens:%H:%M}", "end": f"{closes:%H:%M}"}
    plan = _plan(e2e, "window", [1], 3, windows=[window])
    journal = e2e.tmp / "window.sqlite"
    args = ["run", str(plan), "--endpoint", sim.url, "--journal", str(journal), *FAST]
    child = e2e.launch(*args, "--log-format", "json")
    waiting = None
    deadline = time.monotonic() + 30
    assert child.stderr is not None
    while waiting is None and time.monotonic() < deadline:
        line = child.stderr.readline()
        if '"rerun.window.waiting"' in line:
            waiting = json.loads(line)
    child.send_signal(signal.SIGTERM)
    child.communicate(timeout=30)
    assert waiting is not None
    # the weekday too when the window opens tomorrow (this test run 2 h before midnight)
    when = f"{opens:%H:%M}" if opens.date() == now.date() else f"{opens:%a %H:%M}"
    assert waiting["message"].startswith(f"waiting for the window (opens {when}, in ")
    assert child.returncode == 130
    assert [c for c in sim.calls() if c.get("action", "RerunJob") == "RerunJob"] == []


def _job(ids: list[int], **spec: Any) -> dict[str, Any]:
    return {"region": "cn-hangzhou", "namespace": "ns-1", "group": "g1", "job_ids": ids, **spec}
