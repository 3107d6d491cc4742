"""The package's layers, by what each module imports (type-checking blocks included).

- The journal is storage: none of its modules imports the wire (`schedulerx`) or the
  executor (`run`), so a backend can be read and written without a client. (The package's
  `__init__` still finds the reconciler's names of 0.x in `run` by string, on first use.)
- Only the CLI reads argv: no module outside `rerun_orchestrator.cli` imports argparse or
  the CLI itself, so the library's entry points take option objects, never a Namespace
  (issue 9: `run/_command.py` took an argparse Namespace inside the library).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rerun_orchestrator

ROOT = Path(rerun_orchestrator.__file__).parent
JOURNAL = sorted((ROOT / "journal").glob("*.py"))
# `python -m rerun_orchestrator` is the console script: the CLI's, not the library's
ENTRY = ROOT / "__main__.py"
LIBRARY = sorted(p for p in ROOT.rglob("*.py") if ROOT / "cli" not in p.parents and p != ENTRY)


def imported(path: Path) -> set[str]:
    """Absolute names of every module `path` imports, and of every name it imports from
    one (relative imports resolved)."""
    package = ".".join(("rerun_orchestrator", *path.relative_to(ROOT).parent.parts))
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


def test_the_walk_resolves_relative_imports() -> None:
    names = imported(ROOT / "journal" / "_sqlite.py")
    assert "rerun_orchestrator.journal._model" in names
    assert "rerun_orchestrator.plan._model" in names
    assert "rerun_orchestrator.run._result" in imported(ROOT / "run" / "_session.py")
    assert "argparse" in imported(ROOT / "cli" / "_run_options.py")


@pytest.mark.parametrize("path", JOURNAL, ids=lambda p: p.name)
def test_no_journal_module_imports_the_client_or_the_executor(path: Path) -> None:
    forbidden = ("rerun_orchestrator.schedulerx", "rerun_orchestrator.run")
    bad = {n for n in imported(path) if n.startswith(forbidden)}
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_library_module_reads_argv(path: Path) -> None:
    names = imported(path)
    assert "argparse" not in names, f"{path.relative_to(ROOT)} imports argparse"
    assert not {n for n in names if n.startswith("rerun_orchestrator.cli")}, path
