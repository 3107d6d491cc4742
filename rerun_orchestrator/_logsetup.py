"""structlog configuration for the command line, and only for it.

The library logs (``rerun.attempt``, ``rerun.chunk.failed`` ...) but never configures
logging: a service that embeds it keeps its own pipeline. The CLI calls `configure`:

- ``json``: every event as one JSON object per line on stderr (the contract's
  ``--log-format json``), with ``event``, ``level`` and an ISO ``timestamp`` (UTC);
- ``console``: structlog's readable renderer, coloured on a terminal. Routine successes
  (``rerun.attempt`` that succeeded, ``rerun.chunk.succeeded``) are left out unless
  `verbose`, so that on a long backfill the lines that need a person (retries, throttles,
  failures, unknowns) are not buried; the progress display and the summary count them.
- `log_file`: every event, unfiltered, as JSON lines appended to that file and flushed per
  line, so a run that dies unattended still leaves a record of each attempt and RequestId.

Lines are written to whatever ``sys.stderr`` is *at the time*, not when configured, so that
a live progress display that redirects stderr (rich's ``Live``) keeps log lines above it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, Literal, TextIO

import structlog

LogFormat = Literal["json", "console"]

_ROUTINE = frozenset({"rerun.chunk.succeeded"})
_file: TextIO | None = None


class _StderrLogger:
    """structlog's PrintLogger, but looking up ``sys.stderr`` on every line."""

    def msg(self, message: str) -> None:
        stream = sys.stderr
        stream.write(message + "\n")
        stream.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _logger_factory(*args: Any) -> _StderrLogger:
    return _StderrLogger()


def _drop_routine(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Any:
    event = event_dict.get("event")
    if event in _ROUTINE or (event == "rerun.attempt" and event_dict.get("outcome") == "succeeded"):
        raise structlog.DropEvent
    return event_dict


class _JsonLinesTee:
    """Appends each event as a JSON line to a file, then passes it on unchanged."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __call__(self, _: Any, __: str, event_dict: MutableMapping[str, Any]) -> Any:
        if not self._stream.closed:  # a log line never takes the run down
            self._stream.write(json.dumps(dict(event_dict), default=str) + "\n")
            self._stream.flush()
        return event_dict


def close_log_file() -> None:
    """Close the file opened by `configure(log_file=...)`, if any."""
    global _file  # noqa: PLW0603 - one process-wide log file, like logging's own handlers
    if _file is not None:
        _file.close()
        _file = None


def configure(
    fmt: LogFormat = "console",
    *,
    level: int = logging.INFO,
    verbose: bool = False,
    log_file: Path | None = None,
) -> None:
    """Set structlog up for the CLI: `fmt` lines on stderr, events at `level` and above.

    Raises:
        OSError: `log_file` cannot be opened for appending.
    """
    global _file  # noqa: PLW0603 - see close_log_file
    close_log_file()
    # The official credentials library (optional extra) logs each chain step it tries, with
    # tracebacks, on stdlib logging; the CLI reports a missing credential itself, once.
    logging.getLogger("credentials").setLevel(logging.CRITICAL)
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        _file = log_file.open("a", encoding="utf-8")
        processors.append(_JsonLinesTee(_file))
    if fmt == "json":
        processors += [
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=False),
        ]
    else:
        if not verbose:
            processors.append(_drop_routine)
        processors.append(structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_logger_factory,
        cache_logger_on_first_use=False,
    )
