"""The top-level API: `__all__` and the lazy re-exports stay in step, and stay cheap."""

from __future__ import annotations

import subprocess
import sys

import rerun_orchestrator


def test_every_public_name_resolves_to_the_subpackage_object() -> None:
    for name in rerun_orchestrator.__all__:
        value = getattr(rerun_orchestrator, name)
        if name == "__version__":
            continue
        module = rerun_orchestrator._EXPORTS[name]
        source = __import__(f"rerun_orchestrator{module}", fromlist=[name])
        assert value is getattr(source, name), name


def test_public_names_are_exported_by_their_subpackage() -> None:
    for name, module in rerun_orchestrator._EXPORTS.items():
        if module.startswith("._"):
            continue
        source = __import__(f"rerun_orchestrator{module}", fromlist=["__all__"])
        assert name in source.__all__, f"{module} does not export {name}"


def test_unknown_names_raise_attribute_error() -> None:
    assert not hasattr(rerun_orchestrator, "does_not_exist")
    assert set(rerun_orchestrator.__all__) <= set(dir(rerun_orchestrator))


def test_importing_the_package_and_validating_do_not_load_aiohttp() -> None:
    code = (
        "import sys, rerun_orchestrator, rerun_orchestrator.cli;"
        "from rerun_orchestrator import load_plan;"
        "print('aiohttp' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_all_lists_exactly_the_lazy_exports() -> None:
    assert set(rerun_orchestrator.__all__) == {*rerun_orchestrator._EXPORTS, "__version__"}
    assert rerun_orchestrator.__all__ == sorted(rerun_orchestrator.__all__)
