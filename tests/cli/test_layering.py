"""Only the CLI reads argv: no module outside `rerun_orchestrator.cli` imports argparse or
the CLI itself, so the library's entry points take option objects, never a Namespace
(issue 9: `run/_command.py` took an argparse Namespace inside the library)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rerun_orchestrator

ROOT = Path(rerun_orchestrator.__file__).parent
# `python -m rerun_orchestrator` is the console script: the CLI's, not the library's
ENTRY = ROOT / "__main__.py"
LIBRARY = sorted(p for p in ROOT.rglob("*.py") if ROOT / "cli" not in p.parents and p != ENTRY)


def imported(path: Path) -> set[str]:
    """Absolute names of every module `path` imports (relative imports resolved)."""
    package = ".".join(("rerun_orchestrator", *path.relative_to(ROOT).parent.parts))
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            names.add(".".join(p for p in (base, node.module or "") if p))
    return names


def test_the_walk_resolves_relative_imports() -> None:
    assert "rerun_orchestrator.run._result" in imported(ROOT / "run" / "_session.py")
    assert "argparse" in imported(ROOT / "cli" / "_run_options.py")


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_library_module_reads_argv(path: Path) -> None:
    names = imported(path)
    assert "argparse" not in names, f"{path.relative_to(ROOT)} imports argparse"
    assert not {n for n in names if n.startswith("rerun_orchestrator.cli")}, path
