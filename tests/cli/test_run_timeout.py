"""A RerunJob that commits and then answers too late: abandoned, checked, never resent.

This is the case that makes a blind retry dangerous: the server created the instances,
the client gave up waiting (`--timeout`). The run must find them with GetJobInstanceList
and settle the chunk as succeeded, leaving exactly one instance per (job, day).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from rerun_orchestrator.cli import ExitCode, main
from rerun_orchestrator.simulator import (
    CredentialSpec,
    FaultRule,
    JobSpec,
    SimulatorConfig,
    SimulatorThread,
)

KEY, SECRET = "timeout-key", "timeout-secret"
PLAN = """\
version: 1
name: timeout
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns-1
group: g1
data_time: "10:00:00"
chunk_days: 3
targets:
  - jobs: [1, 2]
    windows: [{start: 2024-01-01, end: 2024-01-09}]
execution: {rate: 50/s}
"""


@pytest.fixture
def sim(start_simulator: Callable[[SimulatorConfig], SimulatorThread]) -> SimulatorThread:
    config = SimulatorConfig(
        credentials=(CredentialSpec(KEY, SECRET),),
        jobs=(JobSpec("cn-hangzhou", "ns-1", "g1", ((1, 2),), max_concurrency=100),),
        quota={},
        default_quota=None,  # GetJobInfo too: the pre-flight is not what is tested
        instance_wait_seconds=0.0,
        instance_run_seconds=0.0,
        faults=(
            FaultRule(
                "slow_after_commit", every_nth=2, budget=2, delay_seconds=3.0, actions=("RerunJob",)
            ),
        ),
    )
    return start_simulator(config)


def test_an_answer_slower_than_the_timeout_is_reconciled_not_resent(
    sim: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    journal, report = tmp_path / "j.sqlite", tmp_path / "report.json"
    args = ["run", str(plan), "--endpoint", sim.url, "--journal", str(journal)]
    args += ["--report", str(report), "--timeout", "0.5", "--settle-seconds", "0.2"]
    args += ["--read-rate", "200/s"]  # what reconciliation finds, not the pace it reads at

    assert main([*args, "--no-progress"]) == ExitCode.OK

    days = Counter(
        (i["job_id"], i["data_time"][:10]) for i in sim.instances() if i["trigger_type"] == 2
    )
    assert len(days) == 2 * 9  # every (job, day) of the plan...
    assert set(days.values()) == {1}  # ...exactly once
    assert len(sim.calls()) == 6  # 2 jobs x 3 chunks: the slow ones were not resent
    chunks = json.loads(report.read_text())["chunks"]
    found = [c for c in chunks if c["instance_ids"]]
    assert len(found) == 2  # the two abandoned calls, settled by what reconciliation found
    assert all(len(c["instance_ids"]) == 3 and c["status"] == "succeeded" for c in found)
    events = [
        json.loads(line) for line in (tmp_path / "j.sqlite.log.jsonl").read_text().splitlines()
    ]
    unknown = [e for e in events if e["event"] == "rerun.attempt" and e["outcome"] == "unknown"]
    assert len(unknown) == 2
    assert all(e["http_status"] is None and e["request_id"] is None for e in unknown)


@pytest.mark.parametrize("value", ["0", "-1"])
def test_a_timeout_must_be_positive(tmp_path: Path, value: str) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    assert main(["run", str(plan), "--simulate", "--timeout", value]) == ExitCode.USAGE
