"""`validate`, `plan` and `schema` as users run them: streams, exit codes, nothing sent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rerun_orchestrator.cli import main

ROOT = Path(__file__).parents[2]
DEMO = str(ROOT / "plans" / "demo.yaml")

GOOD = """\
version: 1
name: good
timezone: Europe/London
region: cn-hangzhou
namespace: ns
group: g
data_time: "10:00:00"
targets:
  - jobs: [1, 2]
    windows: [{start: 2024-01-01, end: 2024-01-10}]
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("name: good", "name: a b").replace("[1, 2]", '[1, "5-2"]'))
    worse = tmp_path / "worse.yaml"
    worse.write_text("version: 1\nname: w\n  bad indent: x\n")
    return {"good": str(good), "bad": str(bad), "worse": str(worse)}


def test_validate_valid_plan_with_warning_exits_0(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", files["good"]]) == 0
    out, err = capsys.readouterr()
    assert out == f"{files['good']}: ok: plan good, 4 calls\n"
    assert err.startswith(f"{files['good']}:4:9: warning: region cn-hangzhou cuts days")


def test_validate_reports_every_problem_of_every_file_and_exits_2(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", files["bad"], files["good"], files["worse"]]) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    name_error = "name 'a b' is not valid: use letters, digits, '.', '_' and '-' only"
    assert lines[0] == f"{files['bad']}:2:7: {name_error}"
    assert lines[1] == f"{files['bad']}:9:15: job range '5-2' is reversed: write \"2-5\""
    assert lines[2].startswith(f"{files['good']}:4:9: warning: ")
    assert lines[3].startswith(
        f"{files['worse']}:3:13: YAML syntax error: mapping values are not allowed here"
    )
    assert len(lines) == 4
    assert out == f"{files['good']}: ok: plan good, 4 calls\n"


def test_validate_max_chunks(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--max-chunks", "3", files["good"]]) == 2
    assert (
        "the plan expands to 4 chunks (RerunJob calls), more than the limit of 3"
        in capsys.readouterr().err
    )
    assert main(["validate", "--max-chunks", "4", files["good"]]) == 0
    assert main(["validate", "--max-chunks", "0", files["good"]]) == 2


def test_validate_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope.yaml")
    assert main(["validate", missing]) == 2
    assert (
        capsys.readouterr().err
        == f"{missing}:1:1: cannot read the plan: No such file or directory\n"
    )


def test_plan_jsonl_prints_only_chunks_on_stdout(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", files["good"], "--format", "jsonl"]) == 0
    out, err = capsys.readouterr()
    objects = [json.loads(line) for line in out.splitlines()]
    assert [(o["job_id"], o["days"]) for o in objects] == [(1, 7), (1, 3), (2, 7), (2, 3)]
    assert "warning" in err  # diagnostics stay on stderr


def test_plan_table_is_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", DEMO]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "39 calls, about 4 s at 10/s" in out


def test_plan_of_an_invalid_plan_exits_2_and_prints_nothing_on_stdout(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", files["bad"], "--format", "jsonl"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 2
    assert main(["plan", files["good"], "--max-chunks", "3"]) == 2


def test_schema_prints_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "targets" in schema["properties"]


def test_examples_validate_clean(capsys: pytest.CaptureFixture[str]) -> None:
    plans = sorted(str(p) for p in (ROOT / "plans").glob("*.yaml"))
    assert len(plans) >= 3
    assert main(["validate", *plans]) == 0
    out, err = capsys.readouterr()
    assert err == ""  # no warnings either
    assert out.count(": ok: ") == len(plans)


@pytest.mark.slow
def test_console_script_survives_a_reader_that_stops_early() -> None:
    """`plan ... | head` closes the pipe early: no traceback, exit 0."""
    command = [
        sys.executable,
        "-m",
        "rerun_orchestrator",
        "plan",
        str(ROOT / "plans" / "large.yaml"),
    ]
    with subprocess.Popen(
        [*command, "--format", "jsonl"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == 0
    assert err == ""
    assert json.loads(first)["job_id"] == 10001
