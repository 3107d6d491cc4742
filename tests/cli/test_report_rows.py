"""Each row of `run --report` says where and when without the plan beside it (region,
namespace, group, first and last day, attempt times), and the report names its run (the
id every log line of that run carries) with its start and end."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from rerun_orchestrator.cli import ExitCode, main

PLAN = """\
version: 1
name: rows
timezone: Asia/Shanghai
namespace: ns-1
group: g1
data_time: "10:00:00"
chunk_days: 2
targets:
  - region: cn-hangzhou
    jobs: [1]
    windows: [{start: 2024-01-01, end: 2024-01-03}]
  - region: cn-shanghai
    group: g2
    jobs: [2]
    windows: [{start: 2024-02-01, end: 2024-02-01}]
execution: {rate: 50/s}
"""


def test_rows_carry_location_days_and_times_and_the_report_names_its_run(
    tmp_path: Path,
) -> None:
    plan = tmp_path / "rows.yaml"
    plan.write_text(PLAN)
    report, log = tmp_path / "report.json", tmp_path / "log.jsonl"
    args = ["run", str(plan), "--simulate", "--journal", str(tmp_path / "j.sqlite")]
    args += ["--report", str(report), "--log-file", str(log), "--no-watch", "--no-progress"]
    assert main(args) == ExitCode.OK
    data = json.loads(report.read_text())
    where = [
        (c["region"], c["namespace"], c["group_id"], c["job_id"], c["first_day"], c["last_day"])
        for c in data["chunks"]
    ]
    assert where == [
        ("cn-hangzhou", "ns-1", "g1", 1, "2024-01-01", "2024-01-02"),
        ("cn-hangzhou", "ns-1", "g1", 1, "2024-01-03", "2024-01-03"),
        ("cn-shanghai", "ns-1", "g2", 2, "2024-02-01", "2024-02-01"),
    ]
    run = data["run"]
    started, ended = (datetime.fromisoformat(run[k]) for k in ("started_at", "ended_at"))
    assert started <= ended
    for chunk in data["chunks"]:
        sent = datetime.fromisoformat(chunk["attempt_started_at"])
        assert started <= sent <= datetime.fromisoformat(chunk["updated_at"]) <= ended
    events = [json.loads(line) for line in log.read_text().splitlines()]
    attempts = [e for e in events if e["event"] == "rerun.attempt"]
    assert len(attempts) == 3
    assert {e["run_id"] for e in attempts} == {run["id"]}
