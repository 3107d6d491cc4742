"""A refusal of who we are stops the run: no quota spent on thousands of doomed calls."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rerun_orchestrator.cli import main
from rerun_orchestrator.journal import ChunkStatus, SqliteJournal
from rerun_orchestrator.run._policy import RUN_FATAL_CODES, halts_the_run
from rerun_orchestrator.schedulerx import ApiResponse, AttemptResult, Verdict
from rerun_orchestrator.simulator import CredentialSpec, JobSpec, SimulatorConfig, SimulatorThread

KEY = "halt-key"
PLAN = """\
version: 1
name: halts
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns-1
group: g1
data_time: "10:00:00"
chunk_days: 1
targets:
  - jobs: [1, 2, 3, 4, 5, 6]
    windows: [{start: 2024-01-01, end: 2024-01-10}]
execution: {rate: 50/s, concurrency: 2}
"""


@pytest.fixture
def sim(start_simulator: Callable[[SimulatorConfig], SimulatorThread]) -> SimulatorThread:
    config = SimulatorConfig(
        credentials=(CredentialSpec(KEY, "the-right-secret"),),
        jobs=(JobSpec("cn-hangzhou", "ns-1", "g1", ((1, 6),)),),
        quota={"RerunJob": None, "GetJobInstanceList": None},
    )
    return start_simulator(config)


def test_a_wrong_secret_stops_the_run_and_leaves_every_chunk_sendable(
    sim: SimulatorThread,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "a-wrong-secret")
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    journal = tmp_path / "j.sqlite"
    args = ["run", str(plan), "--endpoint", sim.url, "--journal", str(journal), "--no-progress"]
    args.append("--no-preflight")  # the pre-flight would refuse the key first (exit 2)

    assert main(args) == 1

    assert "stopped early" in capsys.readouterr().out
    refused = sim.simulator.counters()["RerunJob"]["requests"]
    assert 1 <= refused <= 2  # what was in flight when the first refusal came back, not 60
    with SqliteJournal.open_readonly(journal) as j:
        records = list(j.records())
    assert {r.status for r in records} == {ChunkStatus.PENDING}
    tried = [r for r in records if r.attempts]
    assert len(tried) == refused
    assert all("SignatureDoesNotMatch" in (r.reason or "") for r in tried)

    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "the-right-secret")
    assert main(args) == 0  # fixed: the same command sends everything, once
    assert len(sim.calls()) == 60


def _refused(code: str | int) -> AttemptResult:
    response = ApiResponse(http_status=400, request_id="R", code=code, success=None, message="m")
    return AttemptResult(Verdict.PERMANENT, "refused", response)


@pytest.mark.parametrize("code", [*sorted(RUN_FATAL_CODES), "InvalidSecurityToken.Malformed"])
def test_credential_and_account_refusals_halt(code: str) -> None:
    assert halts_the_run(_refused(code))


@pytest.mark.parametrize("code", ["Forbidden.RAM", "InvalidParameter", "MissingJobId", 500, -1])
def test_refusals_of_one_chunk_do_not_halt(code: str | int) -> None:
    assert not halts_the_run(_refused(code))
