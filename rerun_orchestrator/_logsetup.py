"""structlog configuration for the command line, and only for it.

The library logs (``rerun.attempt``, ``rerun.chunk.failed`` ...) but never configures
logging: a service that embeds it keeps its own pipeline. The CLI calls `configure`:

- ``json``: every event as one JSON object per line on stderr (the contract's
  ``--log-format json``), with ``event``, ``level`` and an ISO ``timestamp`` (UTC);
- ``console``: structlog's readable renderer, coloured on a terminal. Routine successes
  (``rerun.attempt`` that succeeded, ``rerun.chunk.succeeded``) and the instance queries
  that answered (``rerun.reconcile.query`` without an error: the watcher sends one per
  page, all run long) are left out unless `verbose`, so that on a long backfill the lines
  that need a person (retries, throttles, failures, unknowns) are not buried; the progress
  display and the summary count them.
- `log_file`: every event, unfiltered, as JSON lines appended to that file. Writes are
  batched: the file is flushed `FLUSH_SECONDS` (0.2 s) after the first unflushed line, at
  once on every warning or failed attempt, and when closed (also at exit). A run that dies
  unattended (kill -9) so loses at most the last 0.2 s of routine lines, never the line of
  a failure; a flush per line cost a system call per event (6,006 for 3,000 calls).

Lines are written to whatever ``sys.stderr`` is *at the time*, not when configured, so that
a live progress display that redirects stderr (rich's ``Live``) keeps log lines above it.

I/O failures never raise into the code that logged (README, "When things go wrong"): a
closed console (``run ... 2>&1 | head``) mutes the console and calls the hook given to
`on_io_failure` (the run stops gracefully, exit 141); a log file that cannot be written
(disk full) is closed, one line names it on stderr, and the hook is called too (exit 1).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import errno
import json
import logging
import os
import sys
import time
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any, Literal, TextIO

import structlog

LogFormat = Literal["json", "console"]

_ROUTINE = frozenset({"rerun.chunk.succeeded"})
FLUSH_SECONDS = 0.2
# Lines flushed at once: a person (or a crash investigation) needs these.
_URGENT_LEVELS = frozenset({"warning", "warn", "error", "critical", "exception", "fatal"})
_ROUTINE_OUTCOMES = frozenset({None, "succeeded"})
_encode = json.JSONEncoder(default=str, ensure_ascii=True).encode
_file: TextIO | None = None
_tee: _JsonLinesTee | None = None
IoFailure = Literal["console", "log_file"]
_hook: Callable[[IoFailure], None] | None = None


def on_io_failure(hook: Callable[[IoFailure], None] | None) -> None:
    """Call `hook` (once per kind) when the console closes or the log file fails."""
    global _hook  # noqa: PLW0603 - the process's one console and log file
    _hook = hook


def _report(kind: IoFailure) -> None:
    if _hook is not None:
        _hook(kind)


def mute_stream(stream: TextIO) -> None:
    """Point a closed console's descriptor at /dev/null: what is buffered, and the
    interpreter's last flush at exit, then go nowhere instead of raising again."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


def is_closed_pipe(exc: OSError) -> bool:
    return isinstance(exc, BrokenPipeError) or exc.errno in (errno.EPIPE, errno.EINVAL)


class _StderrLogger:
    """structlog's PrintLogger, but looking up ``sys.stderr`` on every line."""

    def msg(self, message: str) -> None:
        stream = sys.stderr
        try:
            stream.write(message + "\n")
            stream.flush()
        except OSError as exc:
            if not is_closed_pipe(exc):
                raise
            mute_stream(stream)
            _report("console")

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _logger_factory(*args: Any) -> _StderrLogger:
    return _StderrLogger()


class _UtcStamper:
    """ISO 8601 UTC ``timestamp`` with microseconds (``2024-06-01T08:00:00.123456Z``), as
    structlog's ``TimeStamper(fmt="iso", utc=True)`` writes it, for a fraction of its cost:
    the date and time of the current second are formatted once per second, not per event."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, _: Any, __: str, event_dict: MutableMapping[str, Any]) -> Any:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        event_dict["timestamp"] = f"{self._prefix}.{int((now - second) * 1e6):06d}Z"
        return event_dict


_PAD_EVENT = 22  # "rerun.reconcile.query" and most others line up


def _time_of_day(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Any:
    """``2024-06-01T08:00:00.123456Z`` → ``08:00:00Z`` for the console (after the tee)."""
    stamp = event_dict.get("timestamp")
    if isinstance(stamp, str) and len(stamp) > 19 and stamp[10] == "T":
        event_dict["timestamp"] = stamp[11:19] + "Z"
    return event_dict


def _drop_routine(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Any:
    event = event_dict.get("event")
    if (
        event in _ROUTINE
        or (event == "rerun.attempt" and event_dict.get("outcome") == "succeeded")
        or (event == "rerun.reconcile.query" and event_dict.get("error") is None)
    ):
        raise structlog.DropEvent
    return event_dict


class _JsonLinesTee:
    """Appends each event as a JSON line to a file, then passes it on unchanged.

    Flushes are batched (see the module docstring): a timer on the running event loop, or
    at once when there is no loop or the line is urgent.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._path = getattr(stream, "name", "the log file")
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    def __call__(self, _: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
        stream = self._stream
        if not stream.closed:  # a log line never takes the run down
            try:
                stream.write(_encode(event_dict) + "\n")
            except OSError as exc:
                self._failed(exc)
                return event_dict
            if method in _URGENT_LEVELS or event_dict.get("outcome") not in _ROUTINE_OUTCOMES:
                self.flush()
            else:
                self._arm()
        return event_dict

    def _failed(self, exc: OSError) -> None:
        """Disk full, I/O error: close the file, say so once, let the run stop."""
        with contextlib.suppress(OSError):
            self._stream.close()  # flushes again, and may fail again: it is closed anyway
        with contextlib.suppress(OSError):
            sys.stderr.write(
                f"rerun-orchestrator run: cannot write log file {self._path}: "
                f"{exc.strerror or exc}; the run stops (the journal holds every outcome): "
                "free space or fix the file, then run the same command again to resume\n"
            )
            sys.stderr.flush()
        _report("log_file")

    def _arm(self) -> None:
        timer_loop = self._timer_loop
        if timer_loop is not None and timer_loop.is_running():
            return  # a flush is due on a running loop already: most lines end here
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()  # no loop to run a timer: flush now, as before
            return
        if self._timer is None or self._timer_loop is not loop:
            self._timer = loop.call_later(FLUSH_SECONDS, self.flush)
            self._timer_loop = loop

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_loop = None
        if not self._stream.closed:
            try:
                self._stream.flush()
            except OSError as exc:
                self._failed(exc)


def close_log_file() -> None:
    """Flush and close the file opened by `configure(log_file=...)`, if any."""
    global _file, _tee  # noqa: PLW0603 - one process-wide log file, like logging's own handlers
    if _tee is not None:
        _tee.flush()
        _tee = None
    if _file is not None:
        with contextlib.suppress(OSError):  # a failed flush was reported by the tee
            _file.close()
        _file = None


atexit.register(close_log_file)


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
    global _file, _tee  # noqa: PLW0603 - see close_log_file
    close_log_file()
    # The official credentials library (optional extra) logs each chain step it tries, with
    # tracebacks, on stdlib logging; the CLI reports a missing credential itself, once.
    logging.getLogger("credentials").setLevel(logging.CRITICAL)
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _UtcStamper(),
    ]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        _file = log_file.open("a", encoding="utf-8")
        _tee = _JsonLinesTee(_file)
        processors.append(_tee)
    if fmt == "json":
        processors += [
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=False),
        ]
    else:
        if not verbose:
            processors.append(_drop_routine)
        # An 80-column terminal: the time of day (the date and the microseconds are in the
        # log file), no padded level, the event padded to our longest common name.
        processors += [
            _time_of_day,
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(), pad_event_to=_PAD_EVENT, pad_level=False
            ),
        ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_logger_factory,
        cache_logger_on_first_use=False,
    )
