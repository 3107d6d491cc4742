"""A simulator that holds every kind of wrong job, and plans written to disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from rerun_orchestrator.simulator import CredentialSpec, JobSpec, SimulatorConfig

KEY, SECRET = "pf-key", "pf-secret-canary-1234"
REGION, NS = "cn-hangzhou", "ns-1"


def world(**overrides: Any) -> SimulatorConfig:
    """Good jobs 1-600 (MaxConcurrency 2, cron at 02:30) and 700 (default), a disabled 21,
    a job 900 of group g2, a basic-edition group with job 300; no quota unless asked."""
    config: dict[str, Any] = {
        "credentials": (CredentialSpec(KEY, SECRET),),
        "jobs": (
            JobSpec(REGION, NS, "g1", ((1, 20), (22, 600)), max_concurrency=2, cron="0 30 2 * * ?"),
            JobSpec(REGION, NS, "g1", ((21, 21),), enabled=False),
            JobSpec(REGION, NS, "g1", ((700, 700),)),
            JobSpec(REGION, NS, "g1", ((800, 800),), time_type=3, every_seconds=60),
            JobSpec(REGION, NS, "g2", ((900, 900),)),
            JobSpec(REGION, NS, "basic.group", ((300_000, 300_000),), edition="basic"),
        ),
        "quota": {},
        "default_quota": None,
    }
    config.update(overrides)
    return SimulatorConfig(**config)


@pytest.fixture
def make_world() -> Callable[..., SimulatorConfig]:
    """`world`: keyword arguments replace its fields."""
    return world


@pytest.fixture
def write_plan(tmp_path: Path) -> Callable[..., Path]:
    """Write a plan of `targets` (each a dict with at least `jobs`) and return its path."""

    def write(targets: list[dict[str, Any]], name: str = "pf") -> Path:
        plan = {
            "version": 1,
            "name": name,
            "timezone": "Asia/Shanghai",
            "region": REGION,
            "namespace": NS,
            "group": "g1",
            "data_time": "10:00:00",
            "targets": [
                {"windows": [{"start": "2024-01-01", "end": "2024-01-07"}], **t} for t in targets
            ],
        }
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(plan, sort_keys=False))
        return path

    return write
