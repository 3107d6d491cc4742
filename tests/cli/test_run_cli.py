"""`rerun-orchestrator run` as a user runs it: a subprocess, its exit codes, its output.

The simulator runs in a background thread of the test process (`SimulatorThread`) on
127.0.0.1, so its state outlives each `run` process and can be inspected afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rerun_orchestrator.journal import ChunkStatus, SqliteJournal
from rerun_orchestrator.simulator import CredentialSpec, JobSpec, SimulatorConfig, SimulatorThread

SECRET = "canary-SECRET-77aa88bb99cc"  # a test key; must never be printed
KEY = "cli-key"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    config = SimulatorConfig(
        credentials=(CredentialSpec(KEY, SECRET),),
        jobs=(JobSpec("cn-hangzhou", "ns-1", "g1", ((1, 50),), max_concurrency=1000),),
        quota={},
        default_quota=None,  # no read is throttled: these tests are not about quota
        instance_wait_seconds=0.0,
        instance_run_seconds=0.0,
    )
    thread = SimulatorThread(config)
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


def plan_file(
    tmp: Path, *, jobs: list[Any], days: int = 14, rate: str = "50/s", **extra: Any
) -> Path:
    plan = {
        "version": 1,
        "name": "cli",
        "timezone": "Asia/Shanghai",
        "region": "cn-hangzhou",
        "namespace": "ns-1",
        "group": "g1",
        "data_time": "10:00:00",
        "chunk_days": 7,
        "targets": [
            {"jobs": jobs, "windows": [{"start": "2024-01-01", "end": f"2024-01-{days:02d}"}]}
        ],
        "execution": {"rate": rate, "concurrency": 4, **extra},
    }
    path = tmp / "plan.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def environment(tmp: Path, *, credentials: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_")}
    env["HOME"] = str(tmp)  # no ~/.aliyun or ~/.alibabacloud of the machine running the tests
    env["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"
    env.pop("RERUN_ORCHESTRATOR_FAILPOINTS", None)
    if credentials:
        env["ALIBABA_CLOUD_ACCESS_KEY_ID"] = KEY
        env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = SECRET
    return env


def rerun(
    tmp: Path, *args: str, credentials: bool = True, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rerun_orchestrator", "run", *args],
        cwd=tmp,
        env=environment(tmp, credentials=credentials),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def json_lines(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]


@pytest.mark.slow
def test_demo_runs_against_the_built_in_simulator(tmp_path: Path) -> None:
    result = rerun(
        tmp_path,
        str(REPO / "plans" / "demo.yaml"),
        "--simulate",
        "--log-format",
        "json",
        "--report",
        "out/report.json",
        credentials=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    events = json_lines(result.stderr)  # every stderr line is one JSON object
    attempts = [e for e in events if e["event"] == "rerun.attempt"]
    assert len(attempts) == 39
    assert {e["outcome"] for e in attempts} == {"succeeded"}
    assert all(e["level"] == "info" and "timestamp" in e for e in attempts)
    # watching (the default) ends the run: its event comes last, after the sending's
    assert [e["event"] for e in events][-1] == "rerun.watch.finished"
    assert set(events[-1]["instances"]) == {"success"}
    assert events[-1]["exit_code"] == 0
    # the watch's events carry the run's id and plan like the sending's
    assert events[-1]["run_id"] == attempts[0]["run_id"] != ""
    assert events[-1]["plan"] == "demo"
    assert any(e["event"] == "rerun.run.finished" for e in events)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["counts"] == {
        "total": 39,
        "succeeded": 39,
        "failed": 0,
        "unknown": 0,
        "pending": 0,
    }
    # the default journal: under $RERUN_ORCHESTRATOR_HOME (set per test), not the cwd
    journal = Path(os.environ["RERUN_ORCHESTRATOR_HOME"]) / "demo.sqlite"
    assert journal.exists()
    assert not (tmp_path / ".rerun").exists()
    assert f"journal: {journal}" in result.stdout
    assert "39 succeeded" in result.stdout
    # again: nothing left to send
    again = rerun(tmp_path, str(REPO / "plans" / "demo.yaml"), "--simulate", credentials=False)
    assert again.returncode == 0
    assert "this run: 0 calls" in again.stdout


@pytest.mark.slow
def test_run_against_an_endpoint_and_no_secret_in_any_output(
    sim: SimulatorThread, tmp_path: Path
) -> None:
    plan = plan_file(tmp_path, jobs=[1, 2, 99])  # 99 is not a job of the simulator
    outputs = []
    for fmt in ("json", "console"):
        journal = tmp_path / f"{fmt}.sqlite"
        report = tmp_path / f"{fmt}.json"
        result = rerun(
            tmp_path,
            str(plan),
            "--endpoint",
            sim.url,
            "--journal",
            str(journal),
            "--report",
            str(report),
            "--log-format",
            fmt,
            "--no-preflight",  # the pre-flight would refuse the plan: send, and see refusals
            *("--read-rate", "200/s"),  # the guard's queries, not their pace, are tested here
        )
        assert result.returncode == 1, result.stderr[-2000:]  # job 99 refused
        outputs += [result.stdout, result.stderr, report.read_text()]
        outputs.append(journal.read_bytes().decode("latin-1"))
        data = json.loads(report.read_text())
        assert data["counts"]["failed"] == 2
        assert data["day_counts"]["succeeded"] == 28
        assert {c["code"] for c in data["chunks"] if c["status"] == "failed"} != {None}
    assert all(SECRET not in text for text in outputs)
    assert KEY in outputs[1]  # the key id is not a secret, and the log shows what was used
    # Version 2: the second run, on a new journal, finds the first run's reruns on the
    # server (the lost-journal guard) and sends none of them again; refusals not accepted.
    assert len(sim.calls()) == 4
    assert "28 days were already rerun on the server" in outputs[4]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "credentials", "message"),
    [
        (["--endpoint", "http://example.com"], True, "http"),
        ([], False, "credentials"),
        (["--rate", "fast"], True, "rate"),
        (["--concurrency", "0"], True, "concurrency"),
        (["--simulate", "--endpoint", "http://127.0.0.1:1"], True, "exclude"),
    ],
)
def test_refusals_exit_2_and_send_nothing(
    sim: SimulatorThread, tmp_path: Path, args: list[str], credentials: bool, message: str
) -> None:
    plan = plan_file(tmp_path, jobs=[1])
    endpoint = (
        []
        if any(a.startswith("--endpoint") or a == "--simulate" for a in args)
        else ["--endpoint", sim.url]
    )
    result = rerun(tmp_path, str(plan), *endpoint, *args, credentials=credentials)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr.lower()
    assert sim.calls() == []
    assert "RerunJob" not in sim.simulator.counters()


@pytest.mark.slow
def test_an_invalid_plan_exits_2_with_positions(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nname: bad\ntimezone: Nowhere/City\ntargets: []\n")
    result = rerun(tmp_path, str(path), "--simulate")
    assert result.returncode == 2
    assert f"{path}:3:" in result.stderr


@pytest.mark.slow
def test_sigint_stops_gracefully_and_a_resume_finishes(
    sim: SimulatorThread, tmp_path: Path
) -> None:
    plan = plan_file(tmp_path, jobs=list(range(1, 11)), days=28, rate="4/s")
    journal = tmp_path / "j.sqlite"
    # --no-preflight: about signals (2 x 10 GetJobInfo at 100/min would cost 11 s)
    args = [str(plan), "--endpoint", sim.url, "--journal", str(journal), "--no-preflight"]
    args += ["--read-rate", "200/s", "--log-format", "json"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rerun_orchestrator", "run", *args],
        cwd=tmp_path,
        env=environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 30
    while len(sim.calls()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err[-2000:]
    events = [e["event"] for e in json_lines(err)]
    assert "rerun.stop.requested" in events
    assert events[-1] == "rerun.run.finished"
    sent = len(sim.calls())
    assert sent < 40
    assert "stopped" in out

    held = SqliteJournal.open_readonly(journal)
    try:
        states = Counter(r.status for r in held.records())
    finally:
        held.close()
    # the calls in flight finished and were recorded; the rest wait, certainly unsent
    # (version 2: chunks never tried are not written, their days are simply uncovered)
    assert states[ChunkStatus.SUCCEEDED] == sent
    assert states[ChunkStatus.PENDING] == 0
    assert states[ChunkStatus.IN_FLIGHT] == 0

    resumed = rerun(tmp_path, *args[:-2], "--rate", "100/s")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    days = Counter((c["job_id"], c["start_date"]) for c in sim.calls())
    assert len(days) == 40
    assert max(days.values()) == 1  # nothing sent twice across the stop


@pytest.mark.slow
def test_second_sigint_stops_at_once_and_the_cut_call_is_reconciled(
    sim: SimulatorThread, tmp_path: Path
) -> None:
    # the first call answers a minute late, after committing: it is on the wire at the stop
    sim.set_faults(
        [{"kind": "slow_after_commit", "delay_seconds": 60, "budget": 1, "actions": ["RerunJob"]}]
    )
    plan = plan_file(tmp_path, jobs=[1, 2], days=14, rate="2/s")
    journal = tmp_path / "j.sqlite"
    args = [str(plan), "--endpoint", sim.url, "--journal", str(journal), "--log-format", "json"]
    args += ["--read-rate", "200/s"]  # the reconciliation's queries, not their pace
    proc = subprocess.Popen(
        [sys.executable, "-m", "rerun_orchestrator", "run", *args],
        cwd=tmp_path,
        env=environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not sim.calls() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    time.sleep(1.0)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err[-2000:]
    assert time.monotonic() - started < 10  # did not wait for the slow answer
    # the summary counts what this run really did before it was cut (not "0 calls, 0 s")
    this_run = next(line for line in out.splitlines() if line.startswith("this run:"))
    calls = int(this_run.removeprefix("this run: ").split(" calls")[0])
    assert calls >= 1, this_run
    assert this_run.split(", ")[-1] != "0 s", this_run
    held = SqliteJournal.open_readonly(journal)
    try:
        states = Counter(r.status for r in held.records())
    finally:
        held.close()
    assert states[ChunkStatus.IN_FLIGHT] == 1  # cut off on the wire: to be reconciled

    resumed = rerun(tmp_path, *args, "--settle-seconds", "0.2", "--rate", "100/s")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    events = json_lines(resumed.stderr)
    reconciled = [e for e in events if e["event"] == "rerun.chunk.reconciled"]
    assert [e["outcome"] for e in reconciled] == ["found"]
    days = Counter((c["job_id"], c["start_date"]) for c in sim.calls())
    assert len(days) == 4
    assert max(days.values()) == 1  # the cut call was not sent again


@pytest.mark.parametrize(("flag", "synchronous"), [((), 2), (("--journal-sync", "normal"), 1)])
def test_journal_sync_chooses_how_durable_a_mark_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: tuple[str, ...], synchronous: int
) -> None:
    # In process, to see the connection's pragma: FULL (2) unless asked for NORMAL (1).
    from rerun_orchestrator.cli import main  # noqa: PLC0415

    seen: list[int] = []
    real_open = SqliteJournal.open

    def spy(path: Path, **kwargs: Any) -> SqliteJournal:
        journal = real_open(path, **kwargs)
        seen.append(journal._conn.execute("PRAGMA synchronous").fetchone()[0])
        return journal

    monkeypatch.setattr(SqliteJournal, "open", spy)
    monkeypatch.chdir(tmp_path)
    plan = str(REPO / "plans" / "demo.yaml")
    # not watching (the demo's instances take seconds), nor at the demo's 10/s: the pragma
    # is set when the journal opens, before any call
    argv = ["run", plan, "--simulate", "--no-progress", "--no-watch", "--log-format", "json"]
    argv += ["--rate", "1000/s", "--simulate-quota", "1000/s", *flag]
    assert main(argv) == 0
    assert seen == [synchronous]
