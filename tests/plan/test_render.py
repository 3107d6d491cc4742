"""The dry run's outputs: JSON lines with exactly the contract's keys, and the summary table."""

from __future__ import annotations

import io
import json

import pytest

from rerun_orchestrator.plan import (
    Rate,
    check_plan_text,
    format_duration,
    parse_rate,
    render_jsonl,
    render_table,
)
from rerun_orchestrator.plan._render import collapse

PLAN = """\
version: 1
name: orders
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: adcfc35d-e2fe-4fe9-bbaa-20e90ffc1234
group: testSchedulerx.defaultGroup
data_time: 10:00:00
chunk_days: 7
targets:
  - jobs: [123, 124, "200-210"]
    windows:
      - {start: 2022-02-22, end: 2022-03-31}
  - group: other.group
    namespace_source: schedulerx
    jobs: [900]
    chunk_days: 31
    windows:
      - {start: 2023-06-01, end: 2023-06-30}
"""

CONTRACT_KEYS = [
    "key",
    "region",
    "namespace",
    "namespace_source",
    "group_id",
    "job_id",
    "start_date",
    "end_date",
    "data_time",
    "days",
]


def _plan(text: str = PLAN):  # type: ignore[no-untyped-def]
    plan, diagnostics = check_plan_text(text, "orders.yaml")
    assert diagnostics == []
    assert plan is not None
    return plan


def test_jsonl_has_exactly_the_contract_keys_one_object_per_chunk() -> None:
    plan = _plan()
    out = io.StringIO()
    assert render_jsonl(plan, out) == plan.count_chunks() == 13 * 6 + 1
    lines = out.getvalue().splitlines()
    assert len(lines) == plan.count_chunks()
    objects = [json.loads(line) for line in lines]
    assert all(list(o) == CONTRACT_KEYS for o in objects)
    first = objects[0]
    assert first["job_id"] == 123
    assert first["start_date"] == 1645459200000  # the StartDate example of docs/schedulerx-api.md
    assert first["end_date"] == 1645459200000 + 6 * 86_400_000
    assert first["days"] == 7
    assert first["namespace_source"] is None
    assert first["data_time"] == "10:00:00"
    assert first["key"].startswith("123:2022-02-22:2022-02-28:")
    last = objects[-1]
    assert (last["group_id"], last["namespace_source"], last["days"]) == (
        "other.group",
        "schedulerx",
        30,
    )
    assert [o["job_id"] for o in objects[::6]][:4] == [123, 124, 200, 201]


def test_table_summarises_targets_and_the_run_time() -> None:
    out = io.StringIO()
    render_table(_plan(), out)
    text = out.getvalue()
    assert text.startswith("Plan orders (orders.yaml), timezone Asia/Shanghai, digest ")
    lines = text.splitlines()
    header = lines[2].split()
    assert header[:5] == ["TARGET", "REGION", "NAMESPACE", "GROUP", "JOBS"]
    row1 = lines[3].split()
    assert row1 == [
        "1", "cn-hangzhou", "adcfc35d-e2fe…", "testSchedulerx.defaultGroup", "123-124,", "200-210",
        "13", "10:00:00", "7", "d", "6", "78", "2022-02-22", "2022-03-31",
    ]  # fmt: skip
    row2 = lines[4].split()
    assert row2[3:6] == ["other.group", "900", "1"]
    assert row2[-3:] == ["1", "2023-06-01", "2023-06-30"]
    assert lines[-1] == (
        "79 calls, about 47 s at 100/min, the plan's rate (14 jobs, 524 job-days;"
        " concurrency 4, up to 6 attempts per call)"
    )


def test_table_total_line_for_the_contract_example() -> None:
    # 12,400 calls at 100/min: the figure the issue quotes.
    text = PLAN.replace('[123, 124, "200-210"]', '["1-1240"]').replace(
        "end: 2022-03-31", "end: 2022-04-30"
    )  # 1240 jobs x 10 weekly chunks (2022-02-22..2022-04-30 is 68 days)
    plan = _plan(text.replace("jobs: [900]", "jobs: [900]\n    region: cn-beijing"))
    out = io.StringIO()
    render_table(plan.with_execution(rate=parse_rate("100/min")), out)
    assert plan.count_chunks() == 12_401
    assert "12,401 calls, about 2 h 4 min at 100/min" in out.getvalue()


def test_table_shortens_long_job_lists() -> None:
    jobs = ", ".join(str(j) for j in range(1000, 1400, 2))
    out = io.StringIO()
    render_table(_plan(PLAN.replace('[123, 124, "200-210"]', f"[{jobs}]")), out)
    row = out.getvalue().splitlines()[3]
    assert "1000, 1002, 1004" in row
    assert "(+19" in row  # 200 ranges, a few shown
    assert "1398" not in row


def test_collapse_merges_adjacent_entries_only() -> None:
    assert collapse([(1, 1), (2, 2), (3, 9), (11, 11), (5, 5)]) == [(1, 9), (11, 11), (5, 5)]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (0.2, "1 s"),
        (45, "45 s"),
        (60, "1 min"),
        (89, "1 min"),
        (3599, "1 h"),
        (3600, "1 h"),
        (7440, "2 h 4 min"),
        (86_400 * 2 + 3600 * 5 + 60, "2 d 5 h"),
        (86_400, "1 d"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("100/min", Rate(100, 60)),
        ("1.5/s", Rate(1.5, 1)),
        (" 10 / s ", Rate(10, 1)),
        ("3600/h", Rate(3600, 3600)),
        (".5/minute", Rate(0.5, 60)),
        ("2/sec", Rate(2, 1)),
        ("7/hour", Rate(7, 3600)),
    ],
)
def test_parse_rate(text: str, rate: Rate) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("100", "is not a rate"),
        ("100/m", "unknown unit 'm'"),
        ("100/MIN", "unknown unit 'MIN'"),
        ("0/s", "more than zero"),
        ("-1/s", "is not a rate"),
        ("1e3/s", "is not a rate"),
        ("nan/s", "is not a rate"),
        ("", "is not a rate"),
        ("100/min/s", "is not a rate"),
    ],
)
def test_parse_rate_refuses_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_rate(text)
    assert "N/s, N/min or N/h" in str(caught.value) or "zero" in str(caught.value)


def test_rate_str_round_trips() -> None:
    for text in ("100/min", "1.5/s", "3/h"):
        assert str(parse_rate(text)) == text
    with pytest.raises(ValueError, match="positive"):
        Rate(0, 60)
