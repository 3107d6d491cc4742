"""`validate` in Git and CI: several plans at once, --format text|json|github, --strict."""

# ruff: noqa: E501

from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rerun_orchestrator import __version__
from rerun_orchestrator.cli import main
from rerun_orchestrator.plan import check_plans

PLAN = """\
version: 1
name: {name}
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns
group: g
data_time: "10:00:00"
targets:
  - jobs: [{jobs}]
    windows:
      - {{start: {start}, end: {end}}}
"""


def write(tmp: Path, file: str, *, name: str, jobs: str, start: str, end: str) -> str:
    path = tmp / file
    path.write_text(PLAN.format(name=name, jobs=jobs, start=start, end=end))
    return str(path)


@pytest.fixture
def two(tmp_path: Path) -> tuple[str, str]:
    """Two plans that share job 5 on 2024-01-10..2024-01-15 (and nothing else)."""
    a = write(tmp_path, "a.yaml", name="a", jobs='1, "3-5"', start="2024-01-01", end="2024-01-15")
    b = write(tmp_path, "b.yaml", name="b", jobs='"5-9"', start="2024-01-10", end="2024-01-31")
    return a, b


def test_a_day_planned_by_two_plans_is_an_error_at_both_positions(
    two: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = two
    assert main(["validate", a, b]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{a}:9:15: job 5 on 2024-01-10..2024-01-15 in cn-hangzhou/ns/g is also planned by {b}:9:12 (plan b): each plan would rerun those days",
        f"{b}:9:12: job 5 on 2024-01-10..2024-01-15 in cn-hangzhou/ns/g is also planned by {a}:9:15 (plan a): each plan would rerun those days",
    ]
    # each alone is fine, and so is the same file given twice
    assert main(["validate", "--alone", a, b]) == 0  # plans that share a journal
    assert capsys.readouterr().out.count(": ok: ") == 2
    assert main(["validate", a]) == 0
    assert main(["validate", b, b]) == 0
    assert capsys.readouterr().out.count(": ok: ") == 2


def test_plans_apart_in_days_jobs_or_location_pass_together(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", name="a", jobs='"1-5"', start="2024-01-01", end="2024-01-15")
    later = write(tmp_path, "l.yaml", name="l", jobs='"1-5"', start="2024-01-16", end="2024-01-31")
    others = write(tmp_path, "o.yaml", name="o", jobs='"6-9"', start="2024-01-01", end="2024-01-31")
    elsewhere = tmp_path / "e.yaml"
    elsewhere.write_text(Path(a).read_text().replace("group: g", "group: h"))
    checks = check_plans([a, later, others, str(elsewhere)])
    assert [(c.ok, c.diagnostics) for c in checks] == [(True, [])] * 4


def test_a_plan_invalid_alone_takes_no_part_in_the_cross_check(two: tuple[str, str]) -> None:
    a, b = two
    Path(b).write_text(Path(b).read_text().replace("name: b", "name: b b"))
    checks = check_plans([a, b])
    assert checks[0].ok
    assert [str(d) for d in checks[1].diagnostics] == [
        f"{b}:2:7: name 'b b' is not valid: use letters, digits, '.', '_' and '-' only"
    ]


def test_the_cross_check_never_lists_days(tmp_path: Path) -> None:
    # 2 x 1,000,000 jobs x 1,000 years: a day-by-day check would never end.
    a = write(
        tmp_path, "a.yaml", name="a", jobs='"1-1000000"', start="1970-01-01", end="2999-12-31"
    )
    b = write(
        tmp_path, "b.yaml", name="b", jobs='"999999-1999999"', start="2999-12-31", end="2999-12-31"
    )
    started = time.process_time()
    checks = check_plans([a, b], max_chunks=10_000_000)
    assert time.process_time() - started < 5.0
    assert [d.message.split(" is also")[0] for c in checks for d in c.diagnostics] == [
        "the plan expands to 53,743,000,000 chunks (RerunJob calls), more than the limit of 10,000,000: split it, or raise the limit with --max-chunks or execution.max_chunks",
    ]
    Path(a).write_text(Path(a).read_text().replace("1970-01-01", "2999-12-01"))
    checks = check_plans([a, b], max_chunks=10_000_000)
    assert [d.message.split(" is also")[0] for c in checks for d in c.diagnostics] == [
        "jobs 999999-1000000 on 2999-12-31 in cn-hangzhou/ns/g",
    ] * 2


def test_format_json_is_one_document_on_stdout(
    two: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = two
    zone = tmp_path / "zone.yaml"
    zone.write_text(
        Path(a).read_text().replace("Asia/Shanghai", "Europe/London").replace("name: a", "name: z")
    )
    zone.write_text(zone.read_text().replace("2024-01-", "2023-01-"))
    missing = str(tmp_path / "missing.yaml")
    assert main(["validate", "--format", "json", a, b, str(zone), missing]) == 2
    out, err = capsys.readouterr()
    assert err == ""
    document = json.loads(out)
    assert [(p["path"], p["ok"], p["calls"]) for p in document["plans"]] == [
        (a, False, None),
        (b, False, None),
        (str(zone), True, 12),
        (missing, False, None),
    ]
    assert document["plans"][0]["problems"] == [
        {
            "line": 9,
            "col": 15,
            "severity": "error",
            "message": f"job 5 on 2024-01-10..2024-01-15 in cn-hangzhou/ns/g is also planned by {b}:9:12 (plan b): each plan would rerun those days",
        }
    ]
    (warning,) = document["plans"][2]["problems"]
    assert (warning["line"], warning["col"], warning["severity"]) == (4, 9, "warning")
    assert document["plans"][3]["problems"] == [
        {
            "line": 1,
            "col": 1,
            "severity": "error",
            "message": "cannot read the plan: No such file or directory",
        }
    ]


def test_strict_fails_on_warnings_in_every_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zone = write(tmp_path, "zone.yaml", name="z", jobs="1", start="2024-01-01", end="2024-01-02")
    Path(zone).write_text(Path(zone).read_text().replace("Asia/Shanghai", "Europe/London"))
    assert main(["validate", zone]) == 0
    out, err = capsys.readouterr()
    assert out == f"{zone}: ok: plan z, 1 call\n"
    assert err.startswith(f"{zone}:4:9: warning: region cn-hangzhou cuts days")
    assert main(["validate", "--strict", zone]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"{zone}:4:9: warning: ")
    assert main(["validate", "--strict", "--format", "json", zone]) == 2
    assert json.loads(capsys.readouterr().out)["plans"][0]["ok"] is False
    assert main(["validate", "--strict", "--format", "github", zone]) == 2
    assert capsys.readouterr().out.startswith(f"::warning file={zone},line=4,col=9::region")


def test_format_github_prints_workflow_commands_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = tmp_path / "a,b:c%.yaml"
    odd.write_text(PLAN.format(name="50%", jobs="1", start="2024-01-01", end="2024-01-02"))
    assert main(["validate", "--format", "github", str(odd)]) == 2
    out, err = capsys.readouterr()
    assert err == ""
    escaped = str(odd).replace("%", "%25").replace(":", "%3A").replace(",", "%2C")
    assert out.splitlines() == [
        f"::error file={escaped},line=2,col=7::name '50%25' is not valid: use letters, digits, '.', '_' and '-' only"
    ]


def test_format_github_of_good_plans_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).parents[2] / "plans"
    assert main(["validate", "--format", "github", str(root / "multi-region.yaml")]) == 0
    assert capsys.readouterr() == ("", "")


def test_version_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:  # argparse's version action, as for --help
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"rerun-orchestrator {__version__}\n"


_WORDS = ["--format", "--strict", "--max-chunks", "--version", "-h", "text", "json", "github",
          "jsonl", "table", "0", "-1", "1", "inf", "nan", "1e400", "99999999999", "", "--",
          "-", "--bogus", "PLAN", "MISSING"]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["validate", "plan", "schema"]),
    st.lists(st.one_of(st.sampled_from(_WORDS), st.text(max_size=6)), max_size=5),
)
def test_any_command_line_ends_in_0_or_2_without_a_traceback(
    command: str, words: list[str]
) -> None:
    root = Path(__file__).parents[2] / "plans"
    plan, missing = str(root / "demo.yaml"), str(root / "missing.yaml")
    argv = [command, *(plan if w == "PLAN" else missing if w == "MISSING" else w for w in words)]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:  # --help and --version, as argparse does them
            code = -1 if exit_.code == 0 else 99
    if code == -1:
        return
    assert code in (0, 2), (argv, err.getvalue())
    assert "Traceback" not in err.getvalue()
    if "(see rerun-orchestrator" in err.getvalue():  # refused while parsing: one line
        assert code == 2
        assert err.getvalue().count("\n") == 1, err.getvalue()
        assert out.getvalue() == ""


def test_a_path_no_file_can_have_is_a_diagnostic(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "a\x00b.yaml"]) == 2  # found by the test above
    assert capsys.readouterr().err == "a\x00b.yaml:1:1: cannot read the plan: embedded null byte\n"
    assert main(["plan", "a\x00b.yaml"]) == 2
