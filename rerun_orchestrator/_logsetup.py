"""structlog configuration for the command line, and only for it.

The library logs (``rerun.attempt``, ``rerun.chunk.failed`` ...) but never configures
logging: a service that embeds it keeps its own pipeline. The CLI calls `configure` once:

- ``json``: one JSON object per line on stderr (the contract's ``--log-format json``), with
  ``event``, ``level`` and an ISO ``timestamp`` (UTC) next to the event's own keys;
- ``console``: structlog's readable renderer, coloured on a terminal.

Lines are written to whatever ``sys.stderr`` is *at the time*, not when configured, so that
a live progress display that redirects stderr (rich's ``Live``) keeps log lines above it.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

import structlog

LogFormat = Literal["json", "console"]


class _StderrLogger:
    """structlog's PrintLogger, but looking up ``sys.stderr`` on every line."""

    def msg(self, message: str) -> None:
        stream = sys.stderr
        stream.write(message + "\n")
        stream.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _logger_factory(*args: Any) -> _StderrLogger:
    return _StderrLogger()


def configure(fmt: LogFormat = "console", *, level: int = logging.INFO) -> None:
    """Set structlog up for the CLI: `fmt` lines on stderr, events at `level` and above."""
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if fmt == "json":
        processors += [
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=False),
        ]
    else:
        colors = sys.stderr.isatty()
        processors.append(structlog.dev.ConsoleRenderer(colors=colors))
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_logger_factory,
        cache_logger_on_first_use=False,
    )
