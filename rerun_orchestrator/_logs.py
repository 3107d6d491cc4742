"""The library's loggers: structlog's, silent until the host configures structlog.

structlog's defaults print every event to stdout, which in a service that embeds us means
lines in its output it never asked for (161 for the demo plan). So each library logger
checks `structlog.is_configured()` at the call: until the host (or our CLI, through
`_logsetup.configure`) calls `structlog.configure`, events are dropped, and nothing is
written to stdout or stderr. Once it has, events go through the host's processors as any
other structlog event would (see docs/library.md for recipes). The check is one attribute
read, made only when an event is logged.
"""

from __future__ import annotations

from typing import Any


def _drop(*_args: Any, **_kwargs: Any) -> None:
    return None


class LibraryLogger:
    """A lazy structlog logger (`structlog.get_logger(name)`) that is quiet by default.

    structlog itself is imported on the first event, so that commands that log nothing
    (``status``, ``validate``) never load it.
    """

    __slots__ = ("_context", "_name", "_proxy")

    def __init__(self, name: str, **context: Any) -> None:
        self._name = name
        self._context = context
        self._proxy: Any = None

    def bind(self, **values: Any) -> Any:
        """A bound logger built now, with structlog's configuration of this moment (quiet
        if structlog is not configured yet)."""
        import structlog  # noqa: PLC0415 - see the class docstring

        if structlog.is_configured():
            return structlog.get_logger(self._name, **self._context).bind(**values)
        return LibraryLogger(self._name, **self._context, **values)

    def __getattr__(self, method: str) -> Any:
        import structlog  # noqa: PLC0415 - see the class docstring

        if not structlog.is_configured():
            return _drop
        if self._proxy is None:
            self._proxy = structlog.get_logger(self._name, **self._context)
        return getattr(self._proxy, method)

    def __repr__(self) -> str:
        return f"LibraryLogger({self._name!r})"


def get_logger(name: str) -> Any:
    """The logger for library module `name` (typed Any, as `structlog.get_logger` is)."""
    return LibraryLogger(name)


__all__ = ["LibraryLogger", "get_logger"]
