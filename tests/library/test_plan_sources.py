"""Plans from a string and from a mapping: the validation and errors of a plan file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

import rerun_orchestrator as ro

ROOT = Path(__file__).resolve().parents[2]


def test_text_gives_the_same_plan_as_the_file() -> None:
    path = ROOT / "plans" / "demo.yaml"
    from_text = ro.load_plan_text(path.read_text(encoding="utf-8"), source="request 7")
    from_file = ro.load_plan(path)
    assert from_text.digest == from_file.digest
    assert from_text.count_chunks() == from_file.count_chunks() == 39
    assert from_text.path == "request 7"


def test_bad_text_raises_plan_error_naming_the_source_line_and_field() -> None:
    text = "version: 1\nname: x\ntimezone: Asia/Shanghai\nregion: cn-hangzhou\nrate: 5\n"
    with pytest.raises(ro.PlanError) as caught:
        ro.load_plan_text(text, source="request 9")
    messages = [str(d) for d in caught.value.diagnostics]
    assert any(m.startswith("request 9:5:1:") and "rate" in m for m in messages), messages
    assert any("targets" in m for m in messages), messages


def test_a_mapping_from_a_database_row_is_the_same_plan() -> None:
    path = ROOT / "plans" / "demo.yaml"
    row = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(row["targets"][0]["windows"][0]["start"], dt.date)
    plan = ro.load_plan_mapping(row, source="plans.id=3")
    assert plan.digest == ro.load_plan(path).digest
    # ISO strings and tuples, as JSON columns give them back, are as good
    row["targets"][0]["windows"] = ({"start": "2024-01-01", "end": "2024-03-31"},)
    assert ro.load_plan_mapping(row).digest == plan.digest


def test_a_bad_mapping_raises_plan_error_with_the_field() -> None:
    row = yaml.safe_load((ROOT / "plans" / "demo.yaml").read_text(encoding="utf-8"))
    row["execution"]["concurrency"] = 0
    with pytest.raises(ro.PlanError, match=r"plans\.id=3:\d+:\d+: .*concurrency"):
        ro.load_plan_mapping(row, source="plans.id=3")
    with pytest.raises(ro.PlanError, match="not a plan value"):
        ro.load_plan_mapping({"version": 1, "name": object()}, source="row")
    with pytest.raises(ro.PlanError, match="mapping"):
        ro.load_plan_mapping(["version", 1], source="row")  # type: ignore[arg-type]
