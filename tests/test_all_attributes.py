"""Every public module's `__all__` (after anyio's tests/test_all_attributes.py): each name
exists and is documented, each public attribute is listed, each object comes from our
package (a private module re-exported, or the module itself), and the top-level package's
lazy names are the subpackages' own objects."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from types import ModuleType

import pytest

import rerun_orchestrator

PUBLIC = [
    "rerun_orchestrator",
    "rerun_orchestrator.journal",
    "rerun_orchestrator.plan",
    "rerun_orchestrator.preflight",
    "rerun_orchestrator.run",
    "rerun_orchestrator.schedulerx",
    "rerun_orchestrator.simulator",
    "rerun_orchestrator.testing",
]
# Public by name but not API: what testing.py imports to define its fixtures (the fixtures
# themselves reach users through the pytest plugin, not `__all__`).
NOT_LISTED = {
    "rerun_orchestrator.testing": {
        "Any",
        "AsyncIterator",
        "Clock",
        "Iterator",
        "TYPE_CHECKING",
        "dataclass",
        "lazy_exports",
    },
}


def _is_fixture(value: object) -> bool:
    return "fixture" in type(value).__name__.lower() or hasattr(value, "_pytestfixturefunction")


def _items(name: str) -> tuple[ModuleType, dict[str, object]]:
    module = importlib.import_module(name)
    return module, {n: getattr(module, n) for n in module.__all__}  # lazy names load here


@pytest.mark.parametrize("name", PUBLIC)
def test_every_listed_name_exists_once_and_the_module_says_what_it_is_for(name: str) -> None:
    module, items = _items(name)
    assert module.__doc__, name
    assert len(set(module.__all__)) == len(module.__all__), name
    assert items


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_attribute_is_listed(name: str) -> None:
    module, _ = _items(name)
    public = {
        n
        for n, v in vars(module).items()
        if n.isidentifier()
        and not n.startswith("_")
        and not inspect.ismodule(v)
        and not _is_fixture(v)
    }
    public -= {"annotations"} | NOT_LISTED.get(name, set())
    assert sorted(public - set(module.__all__)) == [], name


@pytest.mark.parametrize("name", PUBLIC)
def test_every_listed_class_and_function_is_ours_and_documented(name: str) -> None:
    _, items = _items(name)
    for attr, value in items.items():
        if not (inspect.isclass(value) or inspect.isfunction(value)):
            continue  # constants, tables, registries
        home = value.__module__
        assert home == name or home.startswith("rerun_orchestrator."), f"{name}.{attr}: {home}"
        private = home.rsplit(".", 1)[-1].startswith("_")
        assert home == name or private or attr in vars(importlib.import_module(home)), attr
        assert inspect.getdoc(value), f"{name}.{attr} has no docstring"


def test_the_top_level_names_are_the_subpackages_own() -> None:
    for attr in rerun_orchestrator.__all__:
        if attr == "__version__":
            continue
        home = importlib.import_module(rerun_orchestrator._EXPORTS[attr], "rerun_orchestrator")
        assert getattr(rerun_orchestrator, attr) is getattr(home, attr), attr
        if not home.__name__.rsplit(".", 1)[-1].startswith("_"):
            assert attr in home.__all__, f"{home.__name__} does not export {attr}"
    assert set(rerun_orchestrator.__all__) == {*rerun_orchestrator._EXPORTS, "__version__"}
    assert rerun_orchestrator.__all__ == sorted(rerun_orchestrator.__all__)


@pytest.mark.parametrize("name", ["Reconciler", "InstanceLister", "judge_instances"])
def test_the_reconcilers_names_of_0x_still_resolve_in_the_journal(name: str) -> None:
    import rerun_orchestrator.journal as journal  # noqa: PLC0415
    import rerun_orchestrator.run as run  # noqa: PLC0415

    assert getattr(journal, name) is getattr(run, name)
    assert name not in journal.__all__


def test_unknown_names_raise_attribute_error() -> None:
    for name in PUBLIC:
        module = importlib.import_module(name)
        assert not hasattr(module, "does_not_exist")
        assert set(module.__all__) <= set(dir(module))


def test_importing_the_package_and_validating_do_not_load_aiohttp() -> None:
    code = (
        "import sys, rerun_orchestrator, rerun_orchestrator.cli, rerun_orchestrator.journal;"
        "from rerun_orchestrator import load_plan;"
        "print('aiohttp' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
