"""Doubles for the executor tests: the shipped scripted client and reconciler, plans on disk.

Test modules cannot import a conftest (``--import-mode=importlib``), so the doubles travel
as fixtures that return their classes or factories.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from rerun_orchestrator.plan import Plan, load_plan
from rerun_orchestrator.testing import Answers, ScriptedClient, ScriptedReconciler


class Doubles(Answers):
    """The shipped doubles (`rerun_orchestrator.testing`), under the names tests use."""

    Client = ScriptedClient
    Reconciler = ScriptedReconciler


@pytest.fixture
def doubles() -> type[Doubles]:
    return Doubles


@pytest.fixture
def write_plan(tmp_path: Path) -> Callable[..., Plan]:
    """Write and load a plan: `jobs` x one window of `days` days cut in `chunk_days`."""

    def write(
        *,
        name: str = "t",
        jobs: list[Any] | None = None,
        days: int = 28,
        chunk_days: int = 7,
        start: str = "2024-01-01",
        execution: dict[str, Any] | None = None,
        targets: list[dict[str, Any]] | None = None,
    ) -> Plan:
        end = (date.fromisoformat(start) + timedelta(days=days - 1)).isoformat()
        plan = {
            "version": 1,
            "name": name,
            "timezone": "Asia/Shanghai",
            "region": "cn-hangzhou",
            "namespace": "ns-1",
            "group": "g1",
            "data_time": "10:00:00",
            "chunk_days": chunk_days,
            "targets": targets
            or [{"jobs": jobs or [1, 2, 3], "windows": [{"start": start, "end": end}]}],
            "execution": {"rate": "10/s", "concurrency": 4, "max_attempts": 4, **(execution or {})},
        }
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(plan, sort_keys=False))
        return load_plan(path)

    return write


def attempts_by_chunk(logs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in logs:
        if entry["event"] == "rerun.attempt":
            out[entry["chunk"]].append(entry)
    return out


@pytest.fixture
def attempts_of() -> Callable[[list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    return attempts_by_chunk
