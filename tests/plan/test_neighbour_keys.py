"""The good-neighbour keys of execution: caps, read_rate, run windows; errors with positions."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rerun_orchestrator.plan import check_plan_text, plan_json_schema
from rerun_orchestrator.plan._model import Rate
from rerun_orchestrator.plan._run_windows import RunWindow, RunWindows

BASE = """\
version: 1
name: t
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns
group: g
data_time: "10:00:00"
targets:
  - jobs: [1]
    windows:
      - {start: 2024-01-01, end: 2024-01-31}
execution:
"""
ZONE = ZoneInfo("Asia/Shanghai")


def _plan(execution: str) -> Any:
    plan, diagnostics = check_plan_text(BASE + execution, "p.yaml")
    assert diagnostics == []
    assert plan is not None
    return plan.execution


def _errors(execution: str) -> list[str]:
    plan, diagnostics = check_plan_text(BASE + execution, "p.yaml")
    assert plan is None
    return [str(d) for d in diagnostics]


def test_defaults_are_auto_no_group_cap_100_per_min_and_always_open() -> None:
    execution = _plan("  rate: 100/min\n")
    assert execution.max_active_per_job == "auto"
    assert execution.max_active_per_group is None
    assert execution.read_rate == Rate(100, 60)
    assert execution.windows == RunWindows()


def test_the_keys_are_read() -> None:
    execution = _plan(
        "  max_active_per_job: 2\n"
        "  max_active_per_group: 8\n"
        "  read_rate: 50/min\n"
        "  windows:\n"
        '    - {days: weekdays, start: "20:00", end: "06:00"}\n'
        '    - {days: "sat, sun", start: 00:00, end: 23:59}\n'
    )
    assert execution.max_active_per_job == 2
    assert execution.max_active_per_group == 8
    assert execution.read_rate == Rate(50, 60)
    assert execution.windows.windows == (
        RunWindow(frozenset(range(5)), time(20), time(6)),
        RunWindow(frozenset({5, 6}), time(0), time(23, 59)),
    )
    assert _plan("  max_active_per_job: auto\n").max_active_per_job == "auto"


@pytest.mark.parametrize(
    ("execution", "expected"),
    [
        ("  max_active_per_job: 0\n", "p.yaml:13:23: max_active_per_job must be an integer from 1"),
        ("  max_active_per_job: lots\n", "p.yaml:13:23: max_active_per_job must be an integer"),
        ("  max_active_per_group: 0\n", "p.yaml:13:25: max_active_per_group must be an integer"),
        ("  read_rate: fast\n", "p.yaml:13:14"),
        ("  windows: nightly\n", "p.yaml:13:12: windows must be a list"),
        ("  windows:\n    - {days: funday, start: '20:00', end: '06:00'}\n", "p.yaml:14:14: days"),
        ("  windows:\n    - {days: daily, start: '25:00', end: '06:00'}\n", "p.yaml:14:28: start"),
        (
            "  windows:\n    - {days: daily, start: '20:00'}\n",
            "p.yaml:14:7: run window is missing 'end'",
        ),
        ("  windows:\n    - {days: daily, start: '20:00', end: '20:00'}\n", "never opens"),
        (
            "  windows:\n    - {days: daily, start: '1:00', end: '2:00', at: 1}\n",
            "unknown key 'at'",
        ),
    ],
)
def test_errors_name_line_and_column(execution: str, expected: str) -> None:
    assert any(expected in e for e in _errors(execution)), _errors(execution)


def test_windows_open_close_and_wrap_midnight() -> None:
    nightly = RunWindows((RunWindow(frozenset(range(5)), time(20), time(6)),))
    wed_noon = datetime(2024, 1, 3, 12, 0, tzinfo=ZONE)  # a Wednesday
    assert nightly.opening(wed_noon) == datetime(2024, 1, 3, 20, 0, tzinfo=ZONE)
    thu_early = datetime(2024, 1, 4, 3, 0, tzinfo=ZONE)  # Wednesday's window, past midnight
    assert nightly.opening(thu_early) is None
    assert nightly.closing(thu_early) == datetime(2024, 1, 4, 6, 0, tzinfo=ZONE)
    sat_noon = datetime(2024, 1, 6, 12, 0, tzinfo=ZONE)  # no window at the weekend...
    assert nightly.opening(sat_noon) == datetime(2024, 1, 8, 20, 0, tzinfo=ZONE)  # ...Monday
    sat_early = datetime(2024, 1, 6, 3, 0, tzinfo=ZONE)  # Friday's window wraps into Saturday
    assert nightly.opening(sat_early) is None
    assert RunWindows().opening(sat_noon) is None


def test_schema_knows_the_keys() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(plan_json_schema())
    plan: dict[str, Any] = {
        "version": 1,
        "name": "t",
        "timezone": "Asia/Shanghai",
        "region": "cn-hangzhou",
        "namespace": "ns",
        "group": "g",
        "data_time": "10:00:00",
        "targets": [{"jobs": [1], "windows": [{"start": "2024-01-01", "end": "2024-01-02"}]}],
        "execution": {
            "max_active_per_job": "auto",
            "max_active_per_group": 4,
            "read_rate": "100/min",
            "windows": [{"days": "mon,tue", "start": "20:00", "end": "06:00"}],
        },
    }
    assert list(validator.iter_errors(plan)) == []
    plan["execution"]["windows"][0]["days"] = "funday"
    assert list(validator.iter_errors(plan))
    plan["execution"] = {"max_active_per_job": "some"}
    assert list(validator.iter_errors(plan))


TARGETED = """\
version: 1
name: t
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns
group: g
data_time: "10:00:00"
targets:
  - jobs: [1]
    windows: [{start: 2024-01-01, end: 2024-01-31}]
    execution: {max_active_per_job: 1, max_active_per_group: 3}
  - jobs: [2]
    windows: [{start: 2024-01-01, end: 2024-01-31}]
execution:
  max_active_per_job: 4
"""


def test_a_target_may_set_its_own_caps_and_the_run_keeps_them() -> None:
    from rerun_orchestrator.run._neighbour import plan_caps  # noqa: PLC0415
    from rerun_orchestrator.run._streams import JobKey  # noqa: PLC0415

    plan, diagnostics = check_plan_text(TARGETED, "p.yaml")
    assert diagnostics == []
    assert plan is not None
    caps = plan_caps(plan)
    assert caps[JobKey("cn-hangzhou", "ns", "g", 1)].per_job == 1
    assert caps[JobKey("cn-hangzhou", "ns", "g", 1)].per_group == 3
    assert caps[JobKey("cn-hangzhou", "ns", "g", 2)].per_job == 4  # the plan's


def test_a_target_execution_takes_only_the_caps_with_a_position() -> None:
    text = TARGETED.replace("max_active_per_group: 3", "rate: 5/s")
    plan, diagnostics = check_plan_text(text, "p.yaml")
    assert plan is None
    assert [str(d) for d in diagnostics] == [
        "p.yaml:11:40: 'rate' cannot be set in a target's execution; "
        "allowed: max_active_per_job, max_active_per_group"
    ]
