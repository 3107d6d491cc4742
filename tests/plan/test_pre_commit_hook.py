"""The shipped pre-commit hook: its manifest's shape, and its entry run as pre-commit runs it.

`pre-commit try-repo . rerun-orchestrator-validate --files plans/demo.yaml` needs pre-commit
and a package index to build the hook's environment, so the suite checks what pre-commit
reads and then runs the same command line on the same files; `make hook-check` runs
`try-repo` itself (CI does).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[2]


def hook() -> dict[str, object]:
    (only,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    return dict(only)


def test_the_manifest_declares_the_validate_hook() -> None:
    found = hook()
    assert found["id"] == "rerun-orchestrator-validate"
    assert found["language"] == "python"  # pre-commit pip-installs this repository
    assert found["entry"] == "rerun-orchestrator validate"
    assert found["require_serial"] is True  # one process sees every plan (cross-plan check)
    files = re.compile(str(found["files"]))
    assert files.search("plans/demo.yaml")
    assert files.search("plans/q1/orders.yml")
    assert not files.search("docs/plans/demo.yaml")
    assert not files.search("plans/README.md")
    # The entry is a console script of this distribution.
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'rerun-orchestrator = "rerun_orchestrator.cli:main"' in pyproject


def run_entry(*files: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = shutil.which("rerun-orchestrator", path=str(Path(sys.executable).parent))
    assert script is not None
    entry = shlex.split(str(hook()["entry"]))
    return subprocess.run(
        [script, *entry[1:], *files], cwd=cwd, capture_output=True, text=True, check=False
    )


@pytest.mark.slow
def test_the_entry_passes_good_plans_and_fails_a_broken_one(tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    shutil.copy(ROOT / "plans" / "demo.yaml", plans / "demo.yaml")
    good = run_entry("plans/demo.yaml", cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert good.stdout == "plans/demo.yaml: ok: plan demo, 39 calls\n"
    broken = plans / "broken.yaml"
    broken.write_text((plans / "demo.yaml").read_text().replace("name: demo", "name: a b"))
    bad = run_entry("plans/demo.yaml", "plans/broken.yaml", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.startswith("plans/broken.yaml:4:7: name 'a b' is not valid")
