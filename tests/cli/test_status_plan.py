"""`status PLAN`: the journal found as `run` finds it, `--exit-code` for CI (0 every planned
day succeeded, 1 a day needs a person, 3 not done yet), and JSON that is never cut short."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from rerun_orchestrator.cli import ExitCode, main
from rerun_orchestrator.journal import ChunkStatus, SqliteJournal
from rerun_orchestrator.journal._instances import DayInstance, InstanceState
from rerun_orchestrator.journal._status_plan import plan_status
from rerun_orchestrator.plan import Plan, check_plan_text

PLAN = """\
version: 1
name: {name}
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns-1
group: g1
data_time: "10:00:00"
chunk_days: 1
targets:
  - jobs: [1]
    windows: [{{start: 2024-01-01, end: 2024-01-{last:02d}}}]
"""

Write = Callable[..., tuple[Path, Plan]]


@pytest.fixture(autouse=True)
def _no_ambient_journal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RERUN_ORCHESTRATOR_JOURNAL", raising=False)
    monkeypatch.setenv("RERUN_ORCHESTRATOR_HOME", str(tmp_path / "home"))


@pytest.fixture
def write_plan(tmp_path: Path) -> Write:
    def write(name: str = "st", last: int = 3) -> tuple[Path, Plan]:
        text = PLAN.format(name=name, last=last)
        path = tmp_path / f"{name}-{last}.yaml"
        path.write_text(text)
        plan, diagnostics = check_plan_text(text, str(path))
        assert plan is not None, diagnostics
        return path, plan

    return write


def journal_of(plan: Plan, path: Path, *statuses: ChunkStatus) -> list[str]:
    """A journal at `path` whose chunks have `statuses` in plan order (the rest pending)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = [chunk.key for chunk in plan.chunks()]
    with SqliteJournal.open(path, plan_name=plan.name, plan_digest=plan.digest) as journal:
        journal.sync(plan.chunks())
        for key, status in zip(keys, statuses, strict=False):
            if status is not ChunkStatus.PENDING:
                journal.record_outcome(key, status, request_id="R", code=None)
    return keys


def home_journal(tmp_path: Path, plan: Plan) -> Path:
    return tmp_path / "home" / f"{plan.name}.sqlite"


S, F, U, P = ChunkStatus.SUCCEEDED, ChunkStatus.FAILED, ChunkStatus.UNKNOWN, ChunkStatus.PENDING


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ((S, S, S), ExitCode.OK),
        ((S, F, S), ExitCode.INCOMPLETE),
        ((S, U, S), ExitCode.INCOMPLETE),
        ((S, S, P), ExitCode.NOT_DONE),
        ((F, S, P), ExitCode.INCOMPLETE),  # a failure outranks work still to do
    ],
)
def test_exit_code_is_the_plans_verdict_with_the_journal_found_as_run_finds_it(
    write_plan: Write,
    tmp_path: Path,
    statuses: tuple[ChunkStatus, ...],
    expected: ExitCode,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, plan = write_plan()
    journal_of(plan, home_journal(tmp_path, plan), *statuses)  # $RERUN_ORCHESTRATOR_HOME
    assert main(["status", str(path), "--exit-code"]) == expected
    out = capsys.readouterr().out
    assert f"Journal  {home_journal(tmp_path, plan)}" in out
    assert f"Plan st ({path})" in out
    # without --exit-code, status reads and exits 0 whatever the journal holds
    assert main(["status", str(path)]) == ExitCode.OK


def test_the_exit_codes_are_the_documented_numbers() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 75, 130, 141]


def test_instances_decide_too(write_plan: Write, tmp_path: Path) -> None:
    path, plan = write_plan()
    journal = home_journal(tmp_path, plan)
    keys = journal_of(plan, journal, S, S, S)
    days = [chunk.first_day for chunk in plan.chunks()]

    def seen(*states: InstanceState) -> int:
        with SqliteJournal.open(journal, plan_name=plan.name, plan_digest=plan.digest) as j:
            j.record_day_instances(
                DayInstance(key, day, 1, 100 + n, state)
                for n, (key, day, state) in enumerate(zip(keys, days, states, strict=True))
            )
        return main(["status", str(path), "--exit-code", "--format", "json"])

    ok, failed, running = InstanceState.SUCCESS, InstanceState.FAILED, InstanceState.RUNNING
    assert seen(ok, running, ok) == ExitCode.NOT_DONE
    assert seen(ok, failed, ok) == ExitCode.INCOMPLETE
    assert seen(ok, ok, ok) == ExitCode.OK


def test_journal_flag_beats_the_environment_which_beats_the_home(
    write_plan: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, plan = write_plan()
    journal_of(plan, home_journal(tmp_path, plan), S, S, S)
    journal_of(plan, tmp_path / "env.sqlite", S, F, S)
    journal_of(plan, tmp_path / "flag.sqlite", S, S, P)
    monkeypatch.setenv("RERUN_ORCHESTRATOR_JOURNAL", str(tmp_path / "env.sqlite"))
    assert main(["status", str(path), "--exit-code"]) == ExitCode.INCOMPLETE
    flag = ["--journal", str(tmp_path / "flag.sqlite")]
    assert main(["status", str(path), *flag, "--exit-code"]) == ExitCode.NOT_DONE
    # the environment alone names a journal: no PLAN needed
    assert main(["status", "--exit-code"]) == ExitCode.INCOMPLETE


def test_a_plan_with_a_warning_reads_quietly_and_a_broken_one_is_refused(
    write_plan: Write, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, plan = write_plan()
    journal_of(plan, home_journal(tmp_path, plan), S, S, S)
    path.write_text(path.read_text() + "execution: {rate: 500/min}\n")  # above the quota
    capsys.readouterr()
    assert main(["status", str(path), "--exit-code"]) == ExitCode.OK
    assert capsys.readouterr().err == ""
    path.write_text(path.read_text().replace("name: st", "name: a b"))
    assert main(["status", str(path), "--exit-code"]) == ExitCode.USAGE
    assert f"{path}:2:7: " in capsys.readouterr().err


def test_without_plan_or_journal_it_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status"]) == ExitCode.USAGE
    assert "give PLAN" in capsys.readouterr().err


def test_a_plan_that_never_ran_names_where_its_journal_was_looked_for(
    write_plan: Write, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, plan = write_plan()
    assert main(["status", str(path), "--exit-code"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert str(home_journal(tmp_path, plan)) in err
    assert "has plan st run with this journal yet?" in err


def test_journal_exit_code_without_a_plan(write_plan: Write, tmp_path: Path) -> None:
    _, plan = write_plan()
    journal_of(plan, tmp_path / "a.sqlite", S, S, S)
    journal_of(plan, tmp_path / "b.sqlite", S, S, P)
    assert main(["status", "--journal", str(tmp_path / "a.sqlite"), "--exit-code"]) == 0
    assert main(["status", "--journal", str(tmp_path / "b.sqlite"), "--exit-code"]) == 3


def test_json_lists_every_orphan_and_the_table_shortens(
    write_plan: Write, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, wide = write_plan(last=31)
    journal = tmp_path / "j.sqlite"
    journal_of(wide, journal, *[S] * 31)
    path, narrow = write_plan(last=2)  # the same plan name, 29 of its days gone
    with SqliteJournal.open(journal, plan_name=narrow.name, plan_digest=narrow.digest) as j:
        j.sync(narrow.chunks())
    capsys.readouterr()
    assert main(["status", str(path), "--journal", str(journal), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["orphans"]["count"] == 29
    assert len(data["orphans"]["keys"]) == 29
    assert data["plan_status"]["day_counts"]["total"] == 2
    assert data["plan_status"]["verdict"] == "ok"
    assert main(["status", "--journal", str(journal)]) == 0
    table = capsys.readouterr().out
    assert "... and 9 more (--format json lists all)" in table


def test_status_plan_says_when_the_run_window_opens_for_pending_days(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16: `status` says why nothing is being sent: the plan's window is shut."""
    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    start, end = local + timedelta(hours=2), local + timedelta(hours=3)
    text = PLAN.format(name="win", last=3) + (
        f'execution:\n  windows: [{{days: daily, start: "{start:%H:%M}", end: "{end:%H:%M}"}}]\n'
    )
    path = tmp_path / "win.yaml"
    path.write_text(text)
    plan, diagnostics = check_plan_text(text, str(path))
    assert plan is not None, diagnostics
    journal_of(plan, home_journal(tmp_path, plan), S)  # two days still pending

    assert main(["status", str(path)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "pending days are waiting for the window (opens " in out
    assert f"{start:%H:%M}, in " in out  # (the weekday too, past midnight)
    assert main(["status", str(path), "--format", "json"]) == ExitCode.OK
    window = json.loads(capsys.readouterr().out)["plan_status"]["window"]
    assert window["message"].startswith("waiting for the window (opens ")
    assert window["opens_at"].startswith(f"{start:%Y-%m-%dT%H:%M}")

    with SqliteJournal.open_readonly(home_journal(tmp_path, plan)) as journal:
        inside = plan_status(journal, plan, now=start + timedelta(minutes=1))
        assert inside["window"] is None  # open now: nothing to wait for


def test_status_plan_without_windows_says_nothing_of_them(
    write_plan: Write, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, plan = write_plan()
    journal_of(plan, home_journal(tmp_path, plan), S)
    assert main(["status", str(path), "--format", "json"]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out)["plan_status"]["window"] is None
