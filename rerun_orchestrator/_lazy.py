"""Lazy exports (PEP 562): a package's public names imported from their modules on first use.

Start-up time is a feature: ``rerun-orchestrator status`` and ``validate`` must not load
aiohttp, the reconciler or psycopg. So each public package lists `name -> module` and asks
`lazy_exports` for its module-level `__getattr__` and `__dir__`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any


def lazy_exports(
    package: str,
    exports: Mapping[str, str],
    namespace: MutableMapping[str, Any],
    public: Iterable[str],
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of `package`.

    Args:
        package: the package's ``__name__``.
        exports: public name -> the module that defines it (relative to `package` if it
            starts with a dot, absolute otherwise).
        namespace: the package's ``globals()``; a name, once imported, is stored there so
            that later look-ups skip `__getattr__`.
        public: the package's ``__all__``.
    """
    names = tuple(public)

    def __getattr__(name: str) -> Any:  # noqa: N807 (the module hook's name)
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        if name in names:  # a name kept for old imports (not in __all__) is not cached:
            namespace[name] = value  # the package's namespace stays what it lists
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted({*namespace, *names})

    return __getattr__, __dir__
