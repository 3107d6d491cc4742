"""A refusal of who we are stops the run: no quota spent on thousands of doomed calls."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rerun_orchestrator.cli import main
from rerun_orchestrator.journal import ChunkStatus, SqliteJournal
from rerun_orchestrator.run._policy import halts_the_run
from rerun_orchestrator.schedulerx import (
    CODE_TABLE,
    AttemptResult,
    HttpResponse,
    Scope,
    Verdict,
    classified,
    parse_response,
)
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
        quota={},
        default_quota=None,  # no read is throttled: refusals, not the quota, are tested
        instance_wait_seconds=0.0,
        instance_run_seconds=0.0,
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
    args += ["--read-rate", "200/s"]  # the lookback's reads and the watch's: not their pace
    args.append("--no-preflight")  # the pre-flight would refuse the key first (exit 2)
    args.append("--no-watch")  # about halting the sending; watching is tested in e2e

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


def _refused(code: str | int, status: int = 400) -> AttemptResult:
    body = {"RequestId": "R", "Code": code, "Message": "m"}
    if isinstance(code, int):
        body["Success"] = False
    http = HttpResponse(status, {"content-type": "application/json"}, json.dumps(body).encode())
    return classified(parse_response(http))


RUN_SCOPED = [rule.pattern.rstrip("*") for rule in CODE_TABLE if rule.scope is Scope.RUN]


@pytest.mark.parametrize(
    "code",
    [
        *RUN_SCOPED,
        "InvalidSecurityToken.Malformed",
        "InvalidSecurityToken.MismatchWithAccessKey",
        "MissingSecurityToken",
        "InvalidAccessKeyId.Inactive",
    ],
)
def test_credential_and_account_refusals_halt(code: str) -> None:
    result = _refused(code)
    assert result.verdict in (Verdict.PERMANENT, Verdict.RESIGN)
    assert halts_the_run(result)


@pytest.mark.parametrize("code", ["Forbidden.RAM", "InvalidParameter", "MissingJobId", 500, -1])
def test_refusals_of_one_chunk_or_location_do_not_halt(code: str | int) -> None:
    status = 200 if isinstance(code, int) else 400
    assert not halts_the_run(_refused(code, status))


def test_a_missing_security_token_stops_the_run_as_a_wrong_one_does(
    start_simulator: Callable[[SimulatorConfig], SimulatorThread],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 12: an STS key sent without its token was refused chunk by chunk (24 of 24)."""
    config = SimulatorConfig(
        credentials=(CredentialSpec("sts-key", "sts-secret", security_token="the-token"),),
        jobs=(JobSpec("cn-hangzhou", "ns-1", "g1", ((1, 6),)),),
        quota={},
        default_quota=None,  # no read is throttled: refusals, not the quota, are tested
        instance_wait_seconds=0.0,
        instance_run_seconds=0.0,
    )
    sim = start_simulator(config)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "sts-key")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "sts-secret")
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    journal = tmp_path / "j.sqlite"
    args = ["run", str(plan), "--endpoint", sim.url, "--journal", str(journal), "--no-progress"]
    args += ["--read-rate", "200/s"]  # the lookback's reads and the watch's: not their pace
    # the pre-flight's first read is refused the same way: nothing is sent (exit 2) ...
    assert main(args) == 2
    assert "RerunJob" not in sim.simulator.counters()
    # ... and without it, the first RerunJob refused halts the run
    assert main([*args, "--no-preflight"]) == 1

    assert "stopped early" in capsys.readouterr().out
    assert 1 <= sim.simulator.counters()["RerunJob"]["requests"] <= 2
    with SqliteJournal.open_readonly(journal) as j:
        records = list(j.records())
    assert {r.status for r in records} == {ChunkStatus.PENDING}
    assert any("MissingSecurityToken" in (r.reason or "") for r in records)


def test_a_misspelled_group_sends_a_handful_of_calls_and_the_other_groups_go_on(
    sim: SimulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """Issue 11: a misspelled group sent every chunk (274,100 refused calls for large.yaml)."""
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "the-right-secret")
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        PLAN.replace("group: g1\n", "group: g1-typo\n").replace(
            "targets:\n",
            "targets:\n"
            "  - {group: g1, jobs: [1], windows: [{start: 2024-02-01, end: 2024-02-05}]}\n",
        )
    )
    journal = tmp_path / "j.sqlite"
    args = ["run", str(plan), "--endpoint", sim.url, "--journal", str(journal), "--no-progress"]
    args += ["--read-rate", "200/s"]  # the lookback's reads and the watch's: not their pace
    args.append("--no-preflight")  # the pre-flight would name the group first (exit 2)

    assert main(args) == 1

    out = capsys.readouterr().out
    typo = [c for c in sim.calls() if c["group_id"] == "g1-typo"]
    assert typo == []  # refused, so not accepted ...
    requests = sim.simulator.counters()["RerunJob"]["requests"]
    assert requests <= 5 + 3 + 2  # ... and only a handful sent: 5 good, 3 refused, 2 in flight
    assert {c["group_id"] for c in sim.calls()} == {"g1"}
    with SqliteJournal.open_readonly(journal) as j:
        typo_records = [r for r in j.records() if r.chunk.group_id == "g1-typo"]
    # only the refused chunks were sent, so only they have records; the rest stay pending
    failed = sum(r.status is ChunkStatus.FAILED for r in typo_records)
    assert failed == len(typo_records)
    pending = 60 - failed
    assert 3 <= failed <= 4  # the third refusal stops it; one more may have been in flight
    assert f"group g1-typo: stopped after {failed} chunks were refused" in out
    assert f"{pending} more chunk(s) not sent" in out
