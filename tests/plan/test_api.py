"""The public surface: `__all__` lists exactly what the package exports, and examples hold."""

from __future__ import annotations

import inspect
from pathlib import Path

import rerun_orchestrator.plan as plan_package
from rerun_orchestrator.plan import load_plan

ROOT = Path(__file__).parents[2]


def test_all_matches_the_public_names() -> None:
    for name in plan_package.__all__:  # the package imports its names on first use (PEP 562)
        getattr(plan_package, name)
    public = {n for n in vars(plan_package) if n.isidentifier() and not n.startswith("_")}
    modules = {n for n in public if inspect.ismodule(getattr(plan_package, n))}
    assert set(plan_package.__all__) == public - modules - {"annotations"}
    assert plan_package.__all__ == sorted(plan_package.__all__, key=lambda n: (not n.isupper(), n))
    assert plan_package.__doc__


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
