"""Example plans hold what the README says of them (`__all__`: tests/test_all_attributes.py)."""

from __future__ import annotations

from pathlib import Path

from rerun_orchestrator.plan import load_plan

ROOT = Path(__file__).parents[2]


def test_example_plans_have_the_documented_sizes() -> None:
    demo = load_plan(ROOT / "plans" / "demo.yaml")
    assert 30 <= demo.count_chunks() <= 60
    assert {t.region for t in demo.targets} == {"cn-hangzhou"}
    assert str(demo.execution.rate) == "10/s"
    multi = load_plan(ROOT / "plans" / "multi-region.yaml")
    assert len({t.region for t in multi.targets}) >= 3
    assert len({t.group_id for t in multi.targets}) >= 3
    large = load_plan(ROOT / "plans" / "large.yaml")
    assert 100_000 <= large.count_chunks() < large.execution.max_chunks
    assert sum(t.job_count for t in large.targets) >= 300
