"""The loader's bounds: hostile documents are positioned errors in bounded time, and every
number of a plan has a documented maximum."""

# ruff: noqa: E501

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rerun_orchestrator._limits import INT_BOUNDS, MAX_PLAN_BYTES
from rerun_orchestrator.plan import Execution, Rate, _yaml, check_plan, check_plan_text, parse_rate

HEAD = """\
version: 1
name: t
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns
group: g
data_time: "10:00:00"
"""
TARGET = """\
targets:
  - jobs: [1]
    windows: [{start: 2024-01-01, end: 2024-01-02}]
"""
# CPU seconds, not wall clock: generous under any load, and the first release needed
# minutes (each level of the merge fan-out doubled its work; 16 levels took 0.4 s).
CPU_BUDGET = 5.0


def merge_fan_out(levels: int) -> str:
    lines = [HEAD, "x-l0: &l0 {chunk_days: 1}\n"]
    lines += [f"x-l{i}: &l{i} {{<<: [*l{i - 1}, *l{i - 1}]}}\n" for i in range(1, levels + 1)]
    lines.append(TARGET.replace("  - jobs", f"  - <<: *l{levels}\n    jobs"))
    return "".join(lines)


def billion_laughs() -> str:
    lines = [HEAD, "x-a0: &a0 [" + ",".join(['"lol"'] * 10) + "]\n"]
    lines += [f"x-a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 9)]
    return "".join(lines) + TARGET


def checked_within_budget(text: str) -> list[str]:
    started = time.process_time()
    plan, diagnostics = check_plan_text(text, "b.yaml")
    spent = time.process_time() - started
    assert spent < CPU_BUDGET, f"{spent:.1f} CPU seconds"
    assert plan is None
    return [str(d) for d in diagnostics]


def test_a_merge_key_fan_out_of_25_levels_is_a_positioned_error_at_once() -> None:
    text = merge_fan_out(25)
    assert len(text) < 1000
    assert checked_within_budget(text) == [
        "b.yaml:24:19: YAML error: with its aliases expanded, the list at line 24 holds more"
        " than 200,000 values, the limit for a plan; this alias alone stands for 196,605"
        " (a YAML bomb?)"
    ]


def test_a_small_merge_key_fan_out_is_an_ordinary_valid_plan() -> None:
    plan, diagnostics = check_plan_text(merge_fan_out(8), "b.yaml")
    assert diagnostics == []
    assert plan is not None
    assert plan.targets[0].chunk_days == 1


def test_a_billion_laughs_is_a_positioned_error_at_once() -> None:
    text = billion_laughs()
    assert len(text) < 1000
    assert checked_within_budget(text) == [
        "b.yaml:13:12: YAML error: with its aliases expanded, the list at line 13 holds more"
        " than 200,000 values, the limit for a plan; this alias alone stands for 111,111"
        " (a YAML bomb?)"
    ]


def test_many_uses_of_a_big_target_are_refused_before_they_are_walked() -> None:
    jobs = ", ".join(str(i) for i in range(1, 2001))
    text = (
        HEAD
        + f"x-t: &t {{jobs: [{jobs}], windows: [{{start: 2024-01-01, end: 2024-01-02}}]}}\n"
        + "targets: ["
        + ", ".join(["*t"] * 300)
        + "]\n"
    )
    (message,) = checked_within_budget(text)
    assert message.startswith(
        "b.yaml:9:11: YAML error: with its aliases expanded, the list at line 9"
    )


def test_a_huge_document_without_aliases_says_how_to_shrink_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The real limit (200,000) costs seconds of PyYAML scanning to reach; the rule is the same.
    monkeypatch.setattr(_yaml, "MAX_EXPANDED_NODES", 2000)
    jobs = ",".join(["1"] * 2001)
    text = HEAD + TARGET.replace("[1]", f"[{jobs}]")
    (message,) = checked_within_budget(text)
    assert message == (
        'b.yaml:9:11: YAML error: the list at line 9 holds more than 2,000 values, the limit for a plan: write job ranges ("1-500") instead of long lists, or split the plan'
    )


def test_a_document_larger_than_the_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    text = HEAD + TARGET + "#" * MAX_PLAN_BYTES + "\n"
    assert checked_within_budget(text) == [
        f"b.yaml:1:1: the plan is {len(text):,} characters long, more than the limit of"
        f' {MAX_PLAN_BYTES:,}: write job ranges ("1-500") instead of lists, or split it'
    ]
    path = tmp_path / "huge.yaml"
    path.write_text(text)
    plan, diagnostics = check_plan(path)
    assert plan is None
    assert [str(d) for d in diagnostics] == [
        f"{path}:1:1: cannot read the plan: it is larger than {MAX_PLAN_BYTES:,} bytes; split it"
    ]
    path.write_text(HEAD.replace("\n", "\r\n") + TARGET)  # CRLF reads as a text file does
    plan, diagnostics = check_plan(path)
    assert plan is not None, diagnostics


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "  concurrency: 10000000",
            "p.yaml:12:16: concurrency must be an integer from 1 to 1,000, not 10,000,000",
        ),
        (
            "  per_job_concurrency: 1001",
            "p.yaml:12:24: per_job_concurrency must be an integer from 1 to 1,000, not 1,001",
        ),
        (
            "  max_attempts: 101",
            "p.yaml:12:17: max_attempts must be an integer from 1 to 100, not 101",
        ),
        (
            "  max_chunks: 10000001",
            "p.yaml:12:15: max_chunks must be an integer from 1 to 10,000,000, not 10,000,001",
        ),
        (
            "  max_chunks: 99999999999999999999999999999999",
            "p.yaml:12:15: max_chunks must be an integer from 1 to 10,000,000, not 99,999,999,999,999,999,999,999,999,999,999",
        ),
        ("  rate: 100001/s", "p.yaml:12:9: rate '100001/s' is above the maximum of 100,000/s"),
        (
            "  rate: 999999999999999999999999999999999999999999999/min",
            "p.yaml:12:9: rate '999999999999999999999999999999999999999999999/min' is above the maximum of 100,000/s",
        ),
        ("  rate: 0.01/h", "p.yaml:12:9: rate '0.01/h' is below the minimum of one call per day"),
        ("  rate: 0/s", "p.yaml:12:9: rate '0/s' must be more than zero calls"),
    ],
)
def test_every_number_has_a_maximum(line: str, expected: str) -> None:
    text = HEAD + TARGET + "execution:\n" + line + "\n"
    plan, diagnostics = check_plan_text(text, "p.yaml")
    assert plan is None
    assert [str(d) for d in diagnostics] == [expected]


def test_chunk_days_has_a_maximum_wherever_it_is_set() -> None:
    text = HEAD + "chunk_days: 367\n" + TARGET.replace("  - jobs", "  - chunk_days: 400\n    jobs")
    plan, diagnostics = check_plan_text(text, "p.yaml")
    assert plan is None
    assert [str(d) for d in diagnostics] == [
        "p.yaml:8:13: chunk_days must be an integer from 1 to 366, not 367",
        "p.yaml:10:17: chunk_days must be an integer from 1 to 366, not 400",
    ]


@pytest.mark.parametrize("key", sorted(INT_BOUNDS))
def test_the_maxima_themselves_are_accepted(key: str) -> None:
    high = INT_BOUNDS[key][1]
    where = f"chunk_days: {high}\n" if key == "chunk_days" else f"execution: {{{key}: {high}}}\n"
    plan, diagnostics = check_plan_text(HEAD + where + TARGET, "p.yaml")
    assert diagnostics == []
    assert plan is not None
    assert plan.count_chunks() == 1


def test_rates_from_one_a_day_to_the_maximum_are_accepted() -> None:
    assert parse_rate("100000/s").per_second == 100_000
    assert parse_rate("0.0417/h").per_second == pytest.approx(0.0417 / 3600)
    with pytest.raises(ValueError, match="below the minimum of one call per day"):
        parse_rate("0.04/h")


def test_the_library_refuses_the_same_numbers() -> None:
    with pytest.raises(ValueError, match="concurrency must be an integer from 1 to 1,000"):
        Execution(concurrency=10_000_000)
    with pytest.raises(ValueError, match="above the maximum"):
        Execution(rate=Rate(1e9, 1))
    with pytest.raises(ValueError, match="max_chunks must be an integer from 1"):
        check_plan_text(HEAD + TARGET, max_chunks=0)
