"""The JSON Schema says what the validator says: same keys, same defaults, same examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from rerun_orchestrator.plan import DEFAULT_CHUNK_DAYS, Execution, plan_json_schema
from rerun_orchestrator.plan._keys import EXECUTION_KEYS, TARGET_KEYS, TOP_KEYS, WINDOW_KEYS

PLANS = sorted((Path(__file__).parents[2] / "plans").glob("*.yaml"))


def _as_editor_reads(path: Path) -> Any:
    # Editors read YAML 1.2, where dates are strings; JSON round-trip gives the same.
    return json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))


def test_schema_keys_match_the_validator() -> None:
    schema = plan_json_schema()
    defs = schema["$defs"]
    assert tuple(schema["properties"]) == TOP_KEYS
    assert tuple(defs["target"]["properties"]) == TARGET_KEYS
    assert tuple(defs["window"]["properties"]) == WINDOW_KEYS
    assert tuple(schema["properties"]["execution"]["properties"]) == EXECUTION_KEYS
    assert schema["required"] == ["version", "name", "timezone", "targets"]


def test_schema_defaults_match_the_code() -> None:
    schema = plan_json_schema()
    execution = schema["properties"]["execution"]["properties"]
    defaults = Execution()
    assert execution["rate"]["default"] == "100/min" == str(defaults.rate)
    for key in ("concurrency", "max_attempts", "order", "per_job_concurrency", "max_chunks"):
        assert execution[key]["default"] == getattr(defaults, key)
    assert schema["properties"]["chunk_days"]["default"] == DEFAULT_CHUNK_DAYS == 7
    assert json.loads(json.dumps(schema)) == schema


def test_schema_is_valid_and_accepts_the_example_plans() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = plan_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert PLANS
    for path in PLANS:
        errors = [e.message for e in validator.iter_errors(_as_editor_reads(path))]
        assert errors == [], path


@pytest.mark.parametrize(
    ("patch", "why"),
    [
        ({"timezone": None}, "missing timezone"),
        ({"frobnicate": 1}, "unknown key"),
        ({"access_key_secret": "x"}, "a credential is not a plan key"),
        ({"execution": {"rate": "100/m"}}, "bad rate"),
        ({"execution": {"concurrency": 0}}, "concurrency below 1"),
        ({"chunk_days": 0}, "chunk_days below 1"),
        ({"data_time": "10am"}, "bad data_time"),
        (
            {
                "targets": [
                    {"jobs": ["abc"], "windows": [{"start": "2024-01-01", "end": "2024-01-02"}]}
                ]
            },
            "bad job",
        ),
        ({"targets": [{"jobs": [1], "windows": [{"start": "2024-01-01"}]}]}, "window without end"),
        ({"region": None}, "region neither at the top nor in the target"),
        ({"version": 2}, "unknown version"),
    ],
)
def test_schema_rejects_what_the_validator_rejects(patch: dict[str, Any], why: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    plan = _as_editor_reads(Path(__file__).parents[2] / "plans" / "demo.yaml")
    for key, value in patch.items():
        if value is None:
            del plan[key]
        else:
            plan[key] = value
    validator = jsonschema.Draft202012Validator(plan_json_schema())
    assert list(validator.iter_errors(plan)), why
