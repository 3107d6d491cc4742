"""A stop always obeys, and a run refuses before sending what it could only fail after.

Issue 11: Ctrl-C in the first seconds of a large run was ignored and the run went on
sending; SIGTERM at that moment exited 143; an unwritable --report was found after every
call had been sent. The signals here are raised at a step of start-up itself,
deterministically: a start-up step is wrapped to signal this very process.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rerun_orchestrator.cli import main
from rerun_orchestrator.journal import SqliteJournal
from rerun_orchestrator.run import _executor
from rerun_orchestrator.simulator import CredentialSpec, JobSpec, SimulatorConfig, SimulatorThread

KEY, SECRET = "stop-key", "stop-secret"
PLAN = """\
version: 1
name: stops
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns-1
group: g1
data_time: "10:00:00"
chunk_days: 1
targets:
  - jobs: ["1-10"]
    windows: [{start: 2024-01-01, end: 2024-01-31}]
execution: {rate: 1000/s, concurrency: 8}
"""


@pytest.fixture
def sim(start_simulator: Callable[[SimulatorConfig], SimulatorThread]) -> SimulatorThread:
    config = SimulatorConfig(
        credentials=(CredentialSpec(KEY, SECRET),),
        # side by side: this is about stopping, not capacity (MaxConcurrency 1 would make `auto`
        # send each job's days one after another)
        jobs=(JobSpec("cn-hangzhou", "ns-1", "g1", ((1, 20),), max_concurrency=1000),),
        quota={},
        default_quota=None,  # GetJobInfo too: the pre-flight is not what is tested
        instance_wait_seconds=0.0,
        instance_run_seconds=0.0,
    )
    return start_simulator(config)


@pytest.fixture
def args(tmp_path: Path, sim: SimulatorThread, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    journal = tmp_path / "j.sqlite"
    return [
        *("run", str(plan), "--endpoint", sim.url, "--journal", str(journal)),
        *("--no-progress", "--read-rate", "1000/s"),
    ]


def _signal_during_start_up(monkeypatch: pytest.MonkeyPatch, signum: int, where: str) -> None:
    """Signal this very process at one step of start-up (the handler runs at once, in
    this thread, as a user's Ctrl-C would land)."""
    if where == "journal":  # opening (and migrating) the journal, before the event loop
        real_open = SqliteJournal.open

        def opened(*args: Any, **kwargs: Any) -> Any:
            journal = real_open(*args, **kwargs)
            os.kill(os.getpid(), signum)
            return journal

        monkeypatch.setattr(SqliteJournal, "open", opened)
    else:  # reading the plan's jobs from the journal, the loop running
        real_jobs = _executor.plan_jobs

        def jobs(plan: Any) -> Iterator[Any]:
            os.kill(os.getpid(), signum)
            yield from real_jobs(plan)

        monkeypatch.setattr(_executor, "plan_jobs", jobs)


@pytest.mark.parametrize("where", ["journal", "jobs"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_start_up_stops_with_130_and_nothing_sent(
    args: list[str],
    sim: SimulatorThread,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    signum: int,
    where: str,
) -> None:
    _signal_during_start_up(monkeypatch, signum, where)
    assert main(args) == 130  # SIGTERM too: not 143
    assert sim.simulator.counters().get("RerunJob", {}).get("requests", 0) == 0
    captured = capfd.readouterr()
    assert "press Ctrl-C again to stop at once" in captured.err
    # nothing was lost: the same command sends everything, once
    monkeypatch.undo()
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    assert main(args) == 0
    assert len(sim.calls()) == 10 * 31


def test_the_signal_handlers_are_restored_after_the_command(args: list[str]) -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    main([*args, "--max-chunks", "1"])  # refused: too many chunks
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


@pytest.mark.parametrize("where", ["missing-dir-parent-is-a-file", "read-only-dir", "a-directory"])
def test_an_unwritable_report_is_refused_before_anything_is_sent(
    args: list[str],
    sim: SimulatorThread,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    where: str,
) -> None:
    if where == "missing-dir-parent-is-a-file":
        (tmp_path / "file").write_text("x")
        report = tmp_path / "file" / "sub" / "report.json"
    elif where == "read-only-dir":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only directories")
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        report = locked / "report.json"
    else:
        report = tmp_path
    assert main([*args, "--report", str(report)]) == 2
    assert "--report" in capsys.readouterr().err
    assert sim.simulator.counters().get("RerunJob", {}).get("requests", 0) == 0
    assert not (tmp_path / "j.sqlite").exists()  # refused before even the journal was opened


def test_the_stall_limit_ends_a_run_the_service_never_lets_through(
    args: list[str], sim: SimulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    """503 for everything: no chunk fails; after --stall-timeout the run stops, exit 1, all
    pending; once the service is back the same command, with no flag, finishes."""
    sim.set_faults([{"kind": "unavailable", "actions": ["RerunJob"]}])
    assert main([*args, "--stall-timeout", "1.5"]) == 1
    out = capsys.readouterr().out
    assert "no chunk settled for 1.5 s (--stall-timeout)" in out
    assert "the same command resumes" in out
    with SqliteJournal.open_readonly(Path(args[args.index("--journal") + 1])) as journal:
        assert {r.status.value for r in journal.records()} == {"pending"}
    sim.set_faults([])
    assert main(args) == 0
    assert len(sim.calls()) == 10 * 31


def test_a_bad_stall_timeout_is_refused(args: list[str], sim: SimulatorThread) -> None:
    for bad in ("0", "-5", "nan", "inf"):
        assert main([*args, "--stall-timeout", bad]) == 2
    assert sim.simulator.counters().get("RerunJob", {}).get("requests", 0) == 0
