"""`run` refuses what it cannot send before it sends anything (exit 2, no journal)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rerun_orchestrator.cli import ExitCode, main

PLAN = """\
version: 1
name: refusals
timezone: Asia/Shanghai
region: {region}
namespace: ns-1
group: g1
data_time: "10:00:00"
targets:
  - jobs: [1]
    windows: [{{start: 2024-01-01, end: 2024-01-03}}]
"""


def test_a_region_outside_the_endpoint_map_is_refused_up_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "testid")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "testsecret")
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(region="cn-nowhere"))
    journal = tmp_path / "j.sqlite"

    code = main(["run", str(plan), "--journal", str(journal), "--no-progress"])

    assert code == ExitCode.USAGE
    assert "'cn-nowhere' is not in the SchedulerX endpoint map" in capsys.readouterr().err
    assert not journal.exists()
