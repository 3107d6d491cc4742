"""The journal is storage: none of its modules imports the wire (`schedulerx`) or the
executor (`run`), so a backend can be read and written without a client. (The package's
`__init__` still finds the reconciler's names of 0.x in `run` by string, on first use.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rerun_orchestrator.journal as journal

FORBIDDEN = ("rerun_orchestrator.schedulerx", "rerun_orchestrator.run")
MODULES = sorted(Path(journal.__file__).parent.glob("*.py"))


def imported(path: Path) -> set[str]:
    """Absolute names of every module `path` imports, type-checking blocks included."""
    package = "rerun_orchestrator.journal"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_the_walk_sees_relative_imports() -> None:
    names = imported(Path(journal.__file__).parent / "_sqlite.py")
    assert "rerun_orchestrator.journal._model" in names
    assert "rerun_orchestrator.plan._model" in names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_journal_module_imports_the_client_or_the_executor(path: Path) -> None:
    bad = {n for n in imported(path) if n.startswith(FORBIDDEN)}
    assert not bad, f"{path.name} imports {sorted(bad)}"
