"""Exit codes a script can branch on: a journal busy with another run (75, try later) is not
an invalid plan (2); every code is documented in one place."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rerun_orchestrator import _exit_codes
from rerun_orchestrator.cli import ExitCode, main
from rerun_orchestrator.journal import SqliteJournal
from rerun_orchestrator.plan import load_plan

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "plans" / "demo.yaml"


def test_a_journal_held_by_another_run_is_busy_not_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = load_plan(DEMO)
    journal = tmp_path / "demo.sqlite"
    args = ["run", str(DEMO), "--simulate", "--journal", str(journal), "--no-progress"]
    with SqliteJournal.open(journal, plan_name=plan.name, plan_digest=plan.digest):
        assert main([*args, "--no-watch"]) == ExitCode.JOURNAL_BUSY == 75
    assert "is in use by pid" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text(DEMO.read_text().replace("name: demo", "name: a b"))
    assert main(["run", str(broken), "--simulate", "--no-watch"]) == ExitCode.USAGE == 2


def test_every_exit_code_is_in_the_table_and_the_readme() -> None:
    table = _exit_codes.__doc__ or ""
    readme = (ROOT / "README.md").read_text()
    for code in ExitCode:
        assert re.search(rf"^{code.value}\s+{code.name}\s", table, re.M), code
        assert re.search(rf"\| `?{code.value}`? \|", readme), f"README lacks exit {code.value}"


def test_an_exit_code_reads_as_its_number_in_logs_and_reports() -> None:
    """The console log said ``exit_code=<ExitCode.OK: 0>``; a log line says what a shell sees."""
    assert (repr(ExitCode.OK), str(ExitCode.JOURNAL_BUSY), f"{ExitCode.USAGE}") == ("0", "75", "2")
    assert json.dumps({"exit_code": ExitCode.INCOMPLETE}) == '{"exit_code": 1}'
