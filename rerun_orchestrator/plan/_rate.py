"""Rates as people write them (``100/min``, ``1.5/s``) and durations as people read them."""

from __future__ import annotations

import re

from .._limits import rate_bounds_error
from ._model import Rate

_UNITS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hour": 3600.0,
}
_RATE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*/\s*([A-Za-z]+)\s*$", re.ASCII)
# The same grammar for the JSON Schema (ECMA regex, no flags): units are lower case.
RATE_PATTERN = r"^\s*(\d+(\.\d*)?|\.\d+)\s*/\s*(s|sec|second|min|minute|h|hr|hour)\s*$"
RATE_FORMS = "N/s, N/min or N/h (N may be a decimal, e.g. 100/min or 1.5/s)"


def parse_rate(text: str) -> Rate:
    """Parse ``N/s``, ``N/min`` or ``N/h`` (N may be a decimal) into a `Rate`.

    Units are ``s``/``sec``/``second``, ``min``/``minute``, ``h``/``hr``/``hour``, in lower
    case; ``m`` alone is refused as ambiguous (minutes? milli-?).

    Raises:
        ValueError: with a message that says which forms are accepted.
    """
    match = _RATE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"rate {text!r} is not a rate: write {RATE_FORMS}")
    number, unit = match.groups()
    period = _UNITS.get(unit)
    if period is None:
        raise ValueError(f"rate {text!r} has an unknown unit {unit!r}: write {RATE_FORMS}")
    calls = float(number)
    problem = rate_bounds_error(text, calls / period)
    if problem is not None:
        raise ValueError(problem)
    return Rate(calls, period)


def run_seconds(calls: int, rate: Rate) -> float:
    """How long `calls` take at `rate`, the rate being the bound (as it is for big plans)."""
    return calls / rate.per_second


def format_rate(per_second: float) -> str:
    """A rate as a person reads it: ``2.5/s`` when it is whole tenths of a call a second
    (one or more), else per minute with four significant digits at most (a limiter's
    1.6666666666666667/s is ``100/min``)."""
    if per_second <= 0:
        return "0/s"
    tenths = per_second * 10
    if per_second >= 1 and abs(tenths - round(tenths)) < 1e-6:
        return f"{round(tenths) / 10:g}/s"
    return f"{per_second * 60:.4g}/min"


def format_duration(seconds: float) -> str:
    """A rough human duration: ``45 s``, ``12 min``, ``2 h 4 min``, ``3 d 4 h``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{max(1, round(seconds))} s" if seconds > 0 else "0 s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(round(seconds / 3600), 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
