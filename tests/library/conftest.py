"""The library tests run against the simulator through `rerun_orchestrator.testing`'s
``rerun_harness``, holding the jobs of the plans below."""

from __future__ import annotations

from typing import Protocol

import pytest

import rerun_orchestrator as ro
from rerun_orchestrator.simulator import SimulatorConfig
from rerun_orchestrator.testing import simulator_config_for


class PlanMaker(Protocol):
    def __call__(self, name: str, jobs: str, rate: str, *, days: int = 28) -> ro.Plan: ...


@pytest.fixture
def make_plan() -> PlanMaker:
    """Plans of jobs in the simulator's group: ``make_plan("a", "1-3", "10/s")``."""

    def make(name: str, jobs: str, rate: str, *, days: int = 28) -> ro.Plan:
        return ro.load_plan_text(plan_text(name, jobs, rate, days=days), source=name)

    return make


def plan_text(name: str, jobs: str, rate: str, *, days: int = 28, chunk_days: int = 7) -> str:
    end = f"2024-01-{days:02d}" if days <= 31 else "2024-03-31"
    return f"""
version: 1
name: {name}
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns-1
group: g1
data_time: "01:00:00"
chunk_days: {chunk_days}
targets:
  - jobs: ["{jobs}"]
    windows: [{{start: 2024-01-01, end: {end}}}]
execution: {{rate: {rate}, concurrency: 4}}
"""


@pytest.fixture
def schedulerx_simulator_config() -> SimulatorConfig:
    """Jobs 1-100 in one group, unlimited quota (tests that measure the rate set their own)."""
    plan = ro.load_plan_text(plan_text("all", "1-100", "100/s"))
    config = simulator_config_for(plan)
    return SimulatorConfig(
        **{
            **{f: getattr(config, f) for f in config.__dataclass_fields__},
            "quota": {"RerunJob": None, "GetJobInstanceList": None},
        }
    )
