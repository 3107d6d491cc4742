"""`rerun-orchestrator check PLAN...` through `cli.main`: exit codes, stderr lines, JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rerun_orchestrator.cli import main
from rerun_orchestrator.simulator import SimulatorConfig, SimulatorThread

KEY, SECRET = "pf-key", "pf-secret-canary-1234"
FAST = ["--read-rate", "100/s", "--no-progress"]


@pytest.fixture
def sim(make_world: Callable[..., SimulatorConfig]) -> Iterator[SimulatorThread]:
    thread = SimulatorThread(make_world())
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)


def test_bad_jobs_are_printed_at_their_positions_and_exit_2(
    sim: SimulatorThread, keys: None, write_targets: Callable[..., Path], capsys: Any
) -> None:
    path = write_targets([{"jobs": [1, 999]}, {"group": "basic.group", "jobs": [300000]}])
    assert main(["check", str(path), "--endpoint", sim.url, *FAST]) == 2
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if ": job " in line]
    text = path.read_text().splitlines()
    line_999 = next(n for n, line in enumerate(text, 1) if line.strip() == "- 999")
    line_300 = next(n for n, line in enumerate(text, 1) if line.strip() == "- 300000")
    assert lines == [
        f"{path}:{line_999}:5: job 999: not found in cn-hangzhou/ns-1/g1 "
        '(SchedulerX: "jobId=999 is not existed")',
        f"{path}:{line_300}:5: job 300000: group basic.group is Basic Edition "
        "(ListGroups AppVersion 1); RerunJob needs Professional Edition",
    ]
    assert out.strip() == f"{path}: 2 bad jobs of 3"
    assert SECRET not in out + err
    assert sim.calls() == []  # nothing rerun


def test_a_good_plan_exits_0_and_json_tells_what_the_run_will_use(
    sim: SimulatorThread, keys: None, write_targets: Callable[..., Path], capsys: Any
) -> None:
    first = write_targets([{"jobs": ["1-3"]}], "first")
    second = write_targets([{"jobs": [3, 700, 800]}], "second")
    code = main(
        ["check", str(first), str(second), "--endpoint", sim.url, "--format", "json", *FAST]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert [p["ok"] for p in doc["plans"]] == [True, True]
    jobs = {j["job_id"]: j for p in doc["plans"] for j in p["jobs"]}
    assert jobs[1]["max_concurrency"] == 2
    assert jobs[1]["schedule"] == {
        "time_type": 1,
        "kind": "cron",
        "expression": "0 30 2 * * ?",
        "calendar": None,
        "data_offset": 0,
    }
    assert jobs[700]["max_concurrency"] == 1
    assert (jobs[800]["schedule"]["kind"], jobs[800]["schedule"]["expression"]) == (
        "fix_rate",
        "60",
    )
    assert doc["plans"][1]["calls"] == {"ListGroups": 1, "GetJobInfo": 2}  # job 3 asked once
    asked = [r for r in sim.requests() if r["action"] == "GetJobInfo"]
    assert len(asked) == 5


def test_simulate_knows_every_job_of_the_plan(
    write_targets: Callable[..., Path], capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID", raising=False)
    path = write_targets(
        [
            {"jobs": [1, 5]},
            {
                "jobs": [1],
                "group": "other",
                "windows": [{"start": "2024-02-01", "end": "2024-02-02"}],
            },
        ]
    )
    code = main(["check", str(path), "--simulate", "--no-progress"])  # at the real read quota
    out, err = capsys.readouterr()
    # Job 1 cannot be in two groups of one region: the second listing is in the wrong group.
    assert code == 2
    assert "job 1: is not a job of group other" in err
    assert out.strip() == f"{path}: 1 bad job of 3"


def test_usage_errors_exit_2(
    write_targets: Callable[..., Path], capsys: Any, tmp_path: Path
) -> None:
    path = write_targets([{"jobs": [1]}])
    assert main(["check", str(path), "--simulate", "--endpoint", "http://127.0.0.1:1"]) == 2
    assert "exclude each other" in capsys.readouterr().err
    assert main(["check", str(path), "--endpoint", "http://example.com"]) == 2
    assert "http://" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: x\n")
    assert main(["check", str(bad), "--simulate"]) == 2
    assert f"{bad}:1:1:" in capsys.readouterr().err


def test_github_format_annotates_each_bad_job(
    sim: SimulatorThread, keys: None, write_targets: Callable[..., Path], capsys: Any
) -> None:
    path = write_targets([{"jobs": [1, 999]}])
    assert main(["check", str(path), "--endpoint", sim.url, "--format", "github", *FAST]) == 2
    out, err = capsys.readouterr()
    [line] = out.splitlines()
    assert line.startswith(f"::error file={str(path).replace(':', '%3A')},line=")
    assert line.endswith(
        '::job 999: not found in cn-hangzhou/ns-1/g1 (SchedulerX: "jobId=999 is not existed")'
    )
    assert ": job " not in err  # not twice
