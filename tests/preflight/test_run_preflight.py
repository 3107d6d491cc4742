"""`run`'s pre-flight: a plan with any bad job sends no RerunJob at all and exits 2.

Proved from the simulator's own record (`calls()`, its request log), never from our journal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rerun_orchestrator.cli import main
from rerun_orchestrator.simulator import SimulatorConfig, SimulatorThread

KEY, SECRET = "pf-key", "pf-secret-canary-1234"
# the plans send at the default 100/min: not what is tested here
FAST = ["--read-rate", "100/s", "--rate", "100/s", "--no-progress", "--settle-seconds", "0"]
FAST += ["--watch-poll", "0.1"]


@pytest.fixture
def sim(make_world: Callable[..., SimulatorConfig]) -> Iterator[SimulatorThread]:
    # instances end at once: capacity (2 days at a time per job) still paces the sending,
    # without 3 s of waiting and running per day
    thread = SimulatorThread(make_world(instance_wait_seconds=0.0, instance_run_seconds=0.0))
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)


def run(sim: SimulatorThread, plan: Path, tmp_path: Path, *extra: str) -> int:
    journal = tmp_path / "j.sqlite"
    return main(["run", str(plan), "--endpoint", sim.url, "--journal", str(journal), *FAST, *extra])


def test_one_wrong_job_sends_nothing_and_names_every_bad_job(
    sim: SimulatorThread, tmp_path: Path, write_targets: Callable[..., Path], capsys: Any
) -> None:
    plan = write_targets([{"jobs": ["1-5", 999, 21]}, {"group": "nosuch", "jobs": [6]}])
    assert run(sim, plan, tmp_path) == 2
    err = capsys.readouterr().err
    assert sim.calls() == []
    actions = Counter(r["action"] for r in sim.requests())
    assert actions["RerunJob"] == 0
    assert actions["GetJobInfo"] == 8  # 1-5, 999, 21, and 6 to confirm group nosuch
    assert "pre-flight: 3 bad jobs of 8; nothing sent" in err
    assert "job 999: not found in cn-hangzhou/ns-1/g1" in err
    assert "job 21: is disabled" in err
    assert "job 6: group nosuch not found" in err
    assert "--no-preflight" in err
    assert SECRET not in err


def test_a_good_plan_runs_after_its_pre_flight(
    sim: SimulatorThread, tmp_path: Path, write_targets: Callable[..., Path]
) -> None:
    plan = write_targets([{"jobs": [1, 2]}])
    assert run(sim, plan, tmp_path) == 0
    order = [r["action"] for r in sim.requests()]
    first_rerun = order.index("RerunJob")
    checks = [i for i, action in enumerate(order) if action in ("GetJobInfo", "ListGroups")]
    assert len(checks) == 3  # two jobs, one namespace
    assert max(checks) < first_rerun  # all of it before the first RerunJob
    # 7 days per job, each call cut to what the job's MaxConcurrency (2, max_active_per_job:
    # auto) leaves free: never more than 2 days at once, every day once
    calls = sim.calls()
    spans = [(c["end_date"] - c["start_date"]) // 86_400_000 + 1 for c in calls]
    assert max(spans) <= 2
    assert sum(spans) == 14


def test_no_preflight_skips_it(
    sim: SimulatorThread, tmp_path: Path, write_targets: Callable[..., Path]
) -> None:
    plan = write_targets([{"jobs": [1, 999]}])
    assert run(sim, plan, tmp_path, "--no-preflight") == 1  # 999 refused by RerunJob
    actions = Counter(r["action"] for r in sim.requests())
    assert actions["GetJobInfo"] == actions["ListGroups"] == 0
    assert [c["job_id"] for c in sim.calls()] == [1]


def test_a_refused_key_is_found_before_any_rerun(
    sim: SimulatorThread,
    tmp_path: Path,
    write_targets: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "a-wrong-secret")
    plan = write_targets([{"jobs": ["1-30"]}])
    assert run(sim, plan, tmp_path) == 2
    assert "SignatureDoesNotMatch" in capsys.readouterr().err
    assert len(sim.requests()) == 1  # one refusal, not 30 (nor 30 RerunJob)


def test_simulate_runs_with_its_pre_flight(
    tmp_path: Path, write_targets: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID")
    plan = write_targets(
        [{"jobs": [1, 2]}, {"jobs": [2], "windows": [{"start": "2024-02-01", "end": "2024-02-01"}]}]
    )
    journal = tmp_path / "sim.sqlite"
    argv = ["run", str(plan), "--simulate", "--journal", str(journal), "--no-progress"]
    code = main([*argv, "--rate", "100/s", "--simulate-quota", "100/s"])
    assert code == 0
