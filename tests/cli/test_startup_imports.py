"""Commands that send nothing load none of the network stack (issue 13: `status` spent three
quarters of its 0.84 s importing aiohttp, structlog and rich). Timings are
bench/bench_startup.py's; this proves what each command imports, in a fresh interpreter."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rerun_orchestrator.cli import _parser, build_parser

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "plans" / "demo.yaml")
NETWORK = ("aiohttp", "yarl", "multidict", "structlog", "rich", "alibabacloud_credentials")
PROBE = """
import contextlib, io, json, sys
from rerun_orchestrator.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def modules_of(*args: str) -> tuple[int, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True
    )
    answer = json.loads(done.stdout.splitlines()[-1])
    return answer["code"], set(answer["modules"])


def imported_by(*args: str) -> tuple[int, set[str]]:
    code, modules = modules_of(*args)
    return code, {name.split(".")[0] for name in modules}


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("startup") / "demo.sqlite"
    run = ["run", DEMO, "--simulate", "--journal", str(path), "--no-progress"]
    assert imported_by(*run)[0] == 0
    return str(path)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["validate", "plan", "schema", "status", "status-plan"])
def test_commands_that_send_nothing_import_no_network_stack(command: str, journal: str) -> None:
    args = {
        "validate": ["validate", DEMO],
        "plan": ["plan", DEMO],
        "schema": ["schema"],
        "status": ["status", "--journal", journal],
        "status-plan": ["status", DEMO, "--journal", journal, "--exit-code"],
    }[command]
    code, modules = imported_by(*args)
    assert code == 0
    assert sorted(modules.intersection(NETWORK)) == []


@pytest.mark.slow
def test_only_the_verb_typed_is_imported_and_status_loads_no_plan_reader(journal: str) -> None:
    """`main` builds the sub-parser of the verb typed only; `status` without PLAN reads a
    journal, never a plan file (PyYAML and the plan loader are a third of its start-up)."""
    code, modules = modules_of("validate", DEMO)
    assert code == 0
    assert "shutil" not in modules  # argparse's formatter imports it for the width
    verbs = {name for name in modules if name.startswith("rerun_orchestrator.cli._")}
    assert verbs == {
        "rerun_orchestrator.cli._validate",
        "rerun_orchestrator.cli._parser",
        "rerun_orchestrator.cli._option_types",
    }
    code, modules = modules_of("status", "--journal", journal)
    assert code == 0
    assert {"yaml", "rerun_orchestrator.plan._loader"}.isdisjoint(modules)


@pytest.mark.parametrize("columns", [None, "60", "200", "abc", "0"])
def test_help_is_as_wide_as_argparse_makes_it(
    columns: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our formatter finds the width without shutil; every help text stays argparse's."""
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)

    def helps() -> list[str]:
        parser = build_parser()
        verbs = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
        return [parser.format_help(), *(verb.format_help() for verb in verbs.values())]

    ours = helps()
    monkeypatch.setattr(_parser, "HelpFormatter", argparse.HelpFormatter)
    assert ours == helps()
