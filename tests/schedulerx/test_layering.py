"""The wire's contracted API exists; only one module imports aiohttp; modules stay small."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import rerun_orchestrator.schedulerx as package

PACKAGE_DIR = Path(package.__file__).parent


def test_the_contracted_api_exists() -> None:
    client_init = inspect.signature(package.SchedulerXClient.__init__)
    for name in ("endpoint", "transport", "signature_version", "timeouts", "clock"):
        assert client_init.parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert package.Timeouts() == package.Timeouts(connect=5.0, read=30.0, total=60.0)
    fields = list(package.InstanceListPage.__dataclass_fields__)
    assert fields == ["instances", "total", "page_num", "page_size"]


def test_only_the_transport_module_imports_aiohttp() -> None:
    importers = []
    for path in PACKAGE_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] == "aiohttp" for name in names):
                importers.append(path.name)
    assert sorted(set(importers)) == ["_aiohttp.py"]


def test_modules_stay_small() -> None:
    sizes = {path.name: len(path.read_text().splitlines()) for path in PACKAGE_DIR.glob("*.py")}
    assert max(sizes.values()) < 400, sizes
