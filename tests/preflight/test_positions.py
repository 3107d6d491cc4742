"""Where a job entry is written, found again from the plan text (merge keys, flow style)."""

from __future__ import annotations

from rerun_orchestrator.plan import check_plan_text, job_positions

PLAN = """\
version: 1
name: pos
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns-1
group: g1
data_time: "10:00:00"
x-defaults: &defaults
  windows: [{start: 2024-01-01, end: 2024-01-02}]
targets:
  - jobs: [1, "2-4"]
    <<: *defaults
  - <<: *defaults
    jobs:
      - 7
      - "9-10"
"""


def test_positions_match_the_entries_as_the_plan_lists_them() -> None:
    plan, diagnostics = check_plan_text(PLAN, "pos.yaml")
    assert plan is not None, diagnostics
    positions = job_positions(PLAN)
    assert positions == {(0, 0): (11, 12), (0, 1): (11, 15), (1, 0): (15, 9), (1, 1): (16, 9)}
    # One position per entry of `Target.jobs`, in the same order.
    assert [len(t.jobs) for t in plan.targets] == [2, 2]
    assert plan.targets[1].jobs == ((7, 7), (9, 10))


def test_text_that_is_not_a_plan_gives_no_positions() -> None:
    assert job_positions("[1, 2") == {}
    assert job_positions("- a list") == {}
    assert job_positions("targets: 3") == {}
