"""Reading a plan file: at most `MAX_PLAN_BYTES`, UTF-8, newlines as text mode reads them.

Unreadable files are diagnostics like any other problem, so `validate` of many files
reports them all; nothing here raises for a bad file.
"""

from __future__ import annotations

from .._limits import MAX_PLAN_BYTES
from ._diagnostics import Diagnostic


def read_plan_text(name: str) -> str | Diagnostic:
    """The file's text, or the diagnostic (at 1:1) saying why it cannot be read."""
    try:
        with open(name, "rb") as stream:
            # One byte more than the limit tells "too large" without reading a huge file.
            data = stream.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        return _unreadable(name, exc.strerror or str(exc))
    except ValueError as exc:  # a path no file can have ("embedded null byte")
        return _unreadable(name, str(exc))
    if len(data) > MAX_PLAN_BYTES:
        return _unreadable(name, f"it is larger than {MAX_PLAN_BYTES:,} bytes; split it")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _unreadable(name, str(exc))
    return text.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines


def _unreadable(path: str, reason: str) -> Diagnostic:
    return Diagnostic(path, 1, 1, f"cannot read the plan: {reason}")
