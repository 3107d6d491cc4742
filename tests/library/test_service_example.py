"""docs/examples/backfill_service.py runs as written against the simulator, with public
names only, and docs/library.md shows exactly that file."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import aiohttp
import anyio
import pytest
from aiohttp.test_utils import TestServer

import rerun_orchestrator as ro
from rerun_orchestrator.testing import simulator_config_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "backfill_service.py"
PLAN = """
version: 1
name: service-demo
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns-1
group: g1
data_time: "01:00:00"
chunk_days: 7
targets:
  - jobs: ["1-3"]
    windows: [{start: 2024-01-01, end: 2024-01-28}]
execution: {rate: 10/s, concurrency: 4}  # 1.2 s: the events request arrives well before the end
"""


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("backfill_service", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.asyncio
async def test_the_example_service_runs_a_plan_posted_to_it(tmp_path: Path) -> None:
    service = _load_example()
    plan = ro.load_plan_text(PLAN)
    simulator = ro.Simulator(simulator_config_for(plan))
    sim_url = await simulator.start("127.0.0.1", 0)
    key = ro.Credentials("test-key", "test-secret")
    try:
        async with (
            ro.SchedulerXClient(ro.StaticCredentialsProvider(key), endpoint=sim_url) as client,
            anyio.create_task_group() as tg,
        ):
            app = service.make_app(
                tg, client, account="test-key", journals=tmp_path, settle_seconds=0
            )
            server = TestServer(app, host="127.0.0.1", port=0)
            await server.start_server()
            try:
                async with aiohttp.ClientSession() as http:
                    bad = await http.post(server.make_url("/backfills"), data="version: 1\n")
                    assert bad.status == 400
                    assert any("request body:" in e for e in (await bad.json())["errors"])
                    created = await http.post(server.make_url("/backfills"), data=PLAN)
                    assert created.status == 201
                    run_id = (await created.json())["run_id"]
                    async with http.get(server.make_url(f"/backfills/{run_id}/events")) as r:
                        lines = [json.loads(line) async for line in r.content]
                    status = await (await http.get(server.make_url(f"/backfills/{run_id}"))).json()
            finally:
                await server.close()
    finally:
        await simulator.stop()
    assert status["done"]
    assert status["result"]["succeeded"] == 12
    assert status["counts"]["succeeded"] == 12
    assert lines[-1]["event"] == "rerun.run.finished"
    assert {line["run_id"] for line in lines} == {run_id}
    days = Counter((c["job_id"], c["start_date"]) for c in simulator.calls())
    assert len(days) == 12
    assert set(days.values()) == {1}  # exactly once, by the simulator's own record


def test_the_example_uses_public_names_only() -> None:
    tree = ast.parse(EXAMPLE.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
            assert not any(part.startswith("_") for part in node.module.split(".")), node.module
            assert not any(alias.name.startswith("_") for alias in node.names)
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "ro"
        ):
            assert node.attr in ro.__all__, node.attr


def test_docs_show_the_example_as_it_is() -> None:
    doc = (ROOT / "docs" / "library.md").read_text(encoding="utf-8")
    assert EXAMPLE.read_text(encoding="utf-8").strip() in doc
