"""I/O failures on the user's paths end in one clear line and a documented exit code, the
journal consistent (issue 12): a closed console (`run ... 2>&1 | head`), a full disk under
the log file or the journal, a corrupt journal page. "Consistent" is proven the strong way:
the next run completes, and the simulator holds every (job, day) exactly once.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rerun_orchestrator.cli import main
from rerun_orchestrator.journal import _opening
from rerun_orchestrator.simulator import CredentialSpec, JobSpec, SimulatorConfig, SimulatorThread

KEY, SECRET = "io-key", "io-secret"
JOBS, DAYS = 4, 31
PLAN = f"""\
version: 1
name: io
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns-1
group: g1
data_time: "10:00:00"
chunk_days: 1
targets:
  - jobs: ["1-{JOBS}"]
    windows: [{{start: 2024-01-01, end: 2024-01-{DAYS}}}]
execution: {{rate: 1000/s, concurrency: 8}}
"""
EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE, EXIT_CONSOLE_CLOSED = 0, 1, 2, 141


@pytest.fixture
def sim(start_simulator: Callable[[SimulatorConfig], SimulatorThread]) -> SimulatorThread:
    config = SimulatorConfig(
        credentials=(CredentialSpec(KEY, SECRET),),
        # side by side: this is about I/O failures, not about capacity (MaxConcurrency 1
        # would make `auto` send each job's days one after another)
        jobs=(JobSpec("cn-hangzhou", "ns-1", "g1", ((1, 20),), max_concurrency=1000),),
        quota={},
        default_quota=None,  # GetJobInfo too: the pre-flight's 4 reads are not what is tested
        instance_wait_seconds=0.0,
        instance_run_seconds=0.0,
    )
    return start_simulator(config)


@pytest.fixture
def run_args(tmp_path: Path, sim: SimulatorThread, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    return [
        *("run", str(plan), "--endpoint", sim.url, "--journal", str(tmp_path / "j.sqlite")),
        *("--no-progress", "--read-rate", "1000/s", "--settle-seconds", "0.2"),
    ]


def _rerun_days(sim: SimulatorThread) -> Counter[tuple[int, str]]:
    return Counter(
        (i["job_id"], i["data_time"][:10]) for i in sim.instances() if i["trigger_type"] == 2
    )


def _assert_resumes_exactly_once(sim: SimulatorThread, run_args: list[str]) -> None:
    """The journal was left consistent: the next run finishes the plan, no day twice."""
    assert main(run_args) == EXIT_OK
    days = _rerun_days(sim)
    assert len(days) == JOBS * DAYS
    assert set(days.values()) == {1}


def _rerun_calls(sim: SimulatorThread) -> int:
    return sum(1 for call in sim.calls() if call["action"] == "RerunJob")


@pytest.mark.slow
@pytest.mark.parametrize("read_first_line", [False, True], ids=["closed-at-once", "head-1"])
def test_a_closed_console_stops_the_run_gracefully_not_with_exit_0(
    sim: SimulatorThread, run_args: list[str], tmp_path: Path, read_first_line: bool
) -> None:
    """`run --log-format json -v PLAN 2>&1 | head -1`: the first release exited 0 with
    nothing done. Now: exit 141 (a graceful stop), the log file complete, no traceback."""
    command = [sys.executable, "-m", "rerun_orchestrator.cli", *run_args]
    command += ["--log-format", "json", "-v"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ)
    ) as child:
        assert child.stdout is not None
        if read_first_line:
            assert json.loads(child.stdout.readline())["event"]
        child.stdout.close()  # as `head` does once it has its line
        code = child.wait(timeout=120)
    log = [json.loads(line) for line in (tmp_path / "j.sqlite.log.jsonl").read_text().splitlines()]
    assert not any("Traceback" in json.dumps(event) for event in log)
    finished = [e for e in log if e["event"] == "rerun.run.finished"]
    if code == EXIT_OK:  # `head -1` closed the pipe after the whole run had finished
        assert read_first_line
        assert finished[-1]["pending"] == 0
    else:
        assert code == EXIT_CONSOLE_CLOSED
        assert finished
        assert finished[-1]["stopped"] is True
        if not read_first_line:  # closed before the first line: the run sent nothing
            assert _rerun_calls(sim) == 0
    _assert_resumes_exactly_once(sim, run_args)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_under_the_log_file_is_one_line_and_exit_1(
    sim: SimulatorThread, run_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """/dev/full: every write fails with ENOSPC, as on a full disk."""
    assert main([*run_args, "--log-file", "/dev/full"]) == EXIT_INCOMPLETE
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "cannot write log file /dev/full" in line]
    assert len(lines) == 1
    assert "No space left on device" in lines[0]
    assert "run the same command again" in lines[0]
    _assert_resumes_exactly_once(sim, run_args)


def test_a_full_disk_under_the_journal_is_one_line_and_exit_1(
    sim: SimulatorThread,
    run_args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """SQLite's own SQLITE_FULL ("database or disk is full"), by capping the journal's
    size a few pages above what it holds when the run starts."""
    real_writer = _opening.GroupCommitWriter

    def capped_writer(conn: sqlite3.Connection, **kwargs: Any) -> Any:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count={pages + 2}")
        return real_writer(conn, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(_opening, "GroupCommitWriter", capped_writer)
        assert main(run_args) == EXIT_INCOMPLETE
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("rerun-orchestrator run:")]
    assert len(lines) == 1, err
    assert "j.sqlite" in lines[0]
    assert "database or disk is full" in lines[0]
    assert "run the same command again" in lines[0]
    assert 0 < len(_rerun_days(sim)) < JOBS * DAYS  # it stopped part way
    _assert_resumes_exactly_once(sim, run_args)


def test_a_corrupt_journal_page_is_refused_with_the_way_back(
    sim: SimulatorThread,
    run_args: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(run_args) == EXIT_OK
    journal = tmp_path / "j.sqlite"
    assert journal.stat().st_size > 2 * 4096
    with journal.open("r+b") as file:  # the second page (a table's root) is overwritten
        file.seek(4096)
        file.write(b"\xff" * 4096)
    sent = len(sim.calls())
    capsys.readouterr()

    assert main([*run_args, "--rerun-succeeded"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert len(sim.calls()) == sent  # nothing sent, not even a read
    assert "Traceback" not in err
    assert "database disk image is malformed" in err  # SQLite's own message
    assert "move it aside" in err
    assert "--lookback" in err
    assert main(["status", "--journal", str(journal)]) == EXIT_USAGE
    assert "--lookback" in capsys.readouterr().err


@pytest.mark.slow
def test_a_refusal_on_a_closed_console_still_exits_2(tmp_path: Path) -> None:
    """The refusal's line cannot be written: its exit code still says "refused"."""
    command = [sys.executable, "-m", "rerun_orchestrator.cli", "run", "--simulate"]
    command += [str(tmp_path / "missing.yaml"), "--journal", str(tmp_path / "j.sqlite")]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as child:
        assert child.stdout is not None
        child.stdout.close()
        assert child.wait(timeout=60) == EXIT_USAGE
    assert not (tmp_path / "j.sqlite").exists()
