"""Refuse before sending: every output path of a run must be writable before the first call.

An unwritable ``--report`` used to be found after the whole run (a traceback, exit 1,
after every call was sent). Each path is checked now, without creating or truncating
anything: the file, if it exists, must be writable; otherwise its directory (or the
nearest existing ancestor, since the report's directories are created) must be.
"""

from __future__ import annotations

import os
from pathlib import Path


class OutputPathError(Exception):
    """An output path the run could not write; the message names it and says why."""


def check_writable(path: Path, what: str) -> None:
    """Raise `OutputPathError` unless `path` can be written (created if need be)."""
    if path.is_dir():
        raise OutputPathError(f"{what} {path} is a directory, not a file")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise OutputPathError(f"{what} {path} is not writable (check its permissions)")
        return
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputPathError(f"{what} {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(
            f"{what} {path} cannot be created: {parent} is not writable (check its permissions)"
        )


def check_outputs(*, report: str | None, log_file: str | None) -> None:
    """Check the run's output paths named on the command line; nothing is written."""
    if report:
        check_writable(Path(report), "--report")
    if log_file:
        check_writable(Path(log_file), "--log-file")
