"""A rate above the account's RerunJob quota: a warning where it is set, and an ETA that
says which bound it counts with (`plan` table and `plan --format json`)."""

# ruff: noqa: E501

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from rerun_orchestrator.cli import main
from rerun_orchestrator.plan import Rate, check_plan_text, render_table

PLAN = """\
version: 1
name: q
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns
group: g
data_time: "10:00:00"
targets:
  - jobs: ["1-100"]
    windows: [{start: 2024-01-01, end: 2024-01-30}]
execution:
"""


def check(execution: str) -> tuple[object, list[str]]:
    plan, diagnostics = check_plan_text(PLAN + execution, "q.yaml")
    return plan, [str(d) for d in diagnostics]


def test_a_rate_above_the_documented_quota_is_a_warning_at_the_rate() -> None:
    plan, said = check("  rate: 500/min\n")
    assert plan is not None
    assert said == [
        "q.yaml:12:9: warning: rate 500/min is above the account's RerunJob quota of 100/min (SchedulerX's documented quota per account, shared by every caller): the run cannot go faster than the quota; lower the rate, or set execution.account_quota if the quota was raised"
    ]


def test_rates_at_or_below_the_quota_and_raised_quotas_draw_no_warning() -> None:
    assert check("  rate: 100/min\n")[1] == []
    assert check("  rate: 1.5/s\n")[1] == []  # 90/min
    assert check("  rate: 500/min\n  account_quota: 600/min\n")[1] == []


def test_a_quota_set_below_the_default_rate_is_named() -> None:
    plan, said = check("  account_quota: 60/min\n")
    assert plan is not None
    assert said == [
        "q.yaml:12:18: warning: rate 100/min is above the account's RerunJob quota of 60/min (execution.account_quota): the run cannot go faster than the quota; lower the rate, or set execution.account_quota if the quota was raised"
    ]


def test_the_quota_obeys_the_bounds_of_a_rate() -> None:
    plan, said = check("  account_quota: 0/s\n")
    assert plan is None
    assert said == ["q.yaml:12:18: rate '0/s' must be more than zero calls"]


@pytest.mark.parametrize(
    ("execution", "expected"),
    [
        ("  rate: 50/min\n", "500 calls, about 10 min at 50/min, the plan's rate"),
        ("  rate: 500/min\n", "500 calls, about 5 min at 100/min, the account's quota"),
    ],
)
def test_the_table_says_which_bound_its_eta_uses(execution: str, expected: str) -> None:
    plan, _ = check_plan_text(PLAN + execution)
    assert plan is not None
    out = io.StringIO()
    render_table(plan, out)
    assert expected in out.getvalue()


def test_plan_format_json_has_counts_targets_and_the_eta(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "q.yaml"
    path.write_text(PLAN.replace('["1-100"]', '[1, 2, 3, "7-9", 20]') + "  rate: 500/min\n")
    assert main(["plan", str(path), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert "warning: rate 500/min is above" in err  # diagnostics stay on stderr
    summary = json.loads(out)
    assert summary == {
        "plan": "q",
        "path": str(path),
        "timezone": "Asia/Shanghai",
        "digest": summary["digest"],
        "calls": 35,
        "jobs": 7,
        "job_days": 210,
        "targets": [
            {
                "target": 1,
                "region": "cn-hangzhou",
                "namespace": "ns",
                "namespace_source": None,
                "group_id": "g",
                "jobs": [[1, 3], [7, 9], [20, 20]],
                "job_count": 7,
                "data_time": "10:00:00",
                "chunk_days": 7,
                "calls": 35,
                "job_days": 210,
                "first_day": "2024-01-01",
                "last_day": "2024-01-30",
            }
        ],
        "execution": {
            "rate": "500/min",
            "account_quota": "100/min",
            "concurrency": 4,
            "max_attempts": 6,
        },
        "eta": {"seconds": 21.0, "text": "21 s", "rate": "100/min", "bound": "quota"},
    }
    assert len(summary["digest"]) == 64
    assert Rate(100, 60).per_second * summary["eta"]["seconds"] == pytest.approx(35)
