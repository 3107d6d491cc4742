"""Readers for the plan's scalar fields: each checks one YAML node, reports, returns a value.

A reader returns None after reporting, so the caller carries on and the user sees every
problem of the file at once. Messages say what was found and what is expected, in the
vocabulary of the plan format, and never repeat more than the offending scalar.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Collection
from datetime import date, datetime
from functools import cache

from .._limits import INT_BOUNDS, int_bounds_error
from ._model import Rate
from ._rate import parse_rate
from ._yaml import Node, Reporter, ScalarNode, construct, describe

_INT_TAG = "tag:yaml.org,2002:int"
_STR_TAG = "tag:yaml.org,2002:str"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
# Identifiers travel as form fields and are joined with \x1f in chunk keys: no controls.
_IDENTIFIER = re.compile(r"^[^\s\x00-\x1f\x7f]+$")
_REGION = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)+$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
_DATA_TIME = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})$", re.ASCII)
_JOB_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$", re.ASCII)
_DIGITS = re.compile(r"^\s*\d+\s*$", re.ASCII)
MAX_JOB_ID = 2**63 - 1  # JobId is a Java long
# StartDate/EndDate are epoch milliseconds; far-future dates are typos (2204 for 2024).
FIRST_DATE, LAST_DATE = date(1970, 1, 1), date(2999, 12, 31)
MAX_NAME = 128


def _scalar(report: Reporter, node: Node, what: str, expected: str) -> ScalarNode | None:
    if isinstance(node, ScalarNode):
        return node
    report.error(node, f"{what} must be {expected}, not {describe(node)}")
    return None


def read_int(report: Reporter, node: Node, what: str) -> int | None:
    """An integer within the field's bounds (`INT_BOUNDS`); YAML booleans are not integers."""
    minimum, maximum = INT_BOUNDS[what]
    expected = f"an integer from {minimum} to {maximum:,}"
    scalar = _scalar(report, node, what, expected)
    if scalar is None:
        return None
    try:
        value = construct(scalar) if scalar.tag == _INT_TAG else None
    except ValueError:
        value = None
    if not isinstance(value, int):
        report.error(node, f"{what} must be {expected}, not {describe(node)}")
        return None
    problem = int_bounds_error(what, value)
    if problem is not None:
        report.error(node, problem)
        return None
    return int(value)


def read_identifier(
    report: Reporter, node: Node, what: str, pattern: re.Pattern[str] = _IDENTIFIER
) -> str | None:
    """A non-empty string without spaces or controls; digits-only scalars keep their text."""
    scalar = _scalar(report, node, what, "a string")
    if scalar is None:
        return None
    # An unquoted all-digit id is an int to YAML; its text (leading zeros included) is meant.
    if scalar.tag not in (_STR_TAG, _INT_TAG):
        report.error(node, f"{what} must be a string, not {describe(node)}; quote it")
        return None
    text: str = scalar.value
    if not text:
        report.error(node, f"{what} must not be empty")
        return None
    if not pattern.fullmatch(text):
        report.error(node, f"{what} {text!r} is not valid: {_explain(pattern)}")
        return None
    return text


def _explain(pattern: re.Pattern[str]) -> str:
    if pattern is _REGION:
        return "expected a region id such as cn-hangzhou"
    if pattern is _NAME:
        return "use letters, digits, '.', '_' and '-' only"
    return "no spaces or control characters"


def read_region(report: Reporter, node: Node) -> str | None:
    return read_identifier(report, node, "region", _REGION)


def check_known_region(
    report: Reporter, node: Node, region: str, known: Collection[str]
) -> str | None:
    """`region` if it is one of `known`; else reported, with the closest as a suggestion."""
    if region in known:
        return region
    import difflib  # noqa: PLC0415 - only when something is misspelt

    close = difflib.get_close_matches(region, sorted(known), n=1, cutoff=0.75)
    hint = (
        f"; did you mean {close[0]!r}?"
        if close
        else " (docs/plan.md lists them; run --endpoint can reach others)"
    )
    report.error(node, f"region {region!r} is not in SchedulerX's endpoint map{hint}")
    return None


def read_name(report: Reporter, node: Node) -> str | None:
    """The backfill's name: it names the journal file, so no paths and no dot-only names."""
    name = read_identifier(report, node, "name", _NAME)
    if name is not None and (set(name) == {"."} or len(name) > MAX_NAME):
        report.error(node, f"name {name!r} is not valid: not only dots, at most {MAX_NAME} chars")
        return None
    return name


def read_version(report: Reporter, node: Node) -> int | None:
    scalar = _scalar(report, node, "version", "1")
    if scalar is None:
        return None
    if scalar.tag != _INT_TAG or scalar.value.strip() != "1":
        report.error(node, f"unsupported plan version {scalar.value!r}: this tool reads version 1")
        return None
    return 1


def read_timezone(report: Reporter, node: Node) -> str | None:
    """An IANA zone name that this machine's tz database (or the tzdata package) knows."""
    name = read_identifier(report, node, "timezone")
    if name is None:
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        close = _suggest_zone(name)
        hint = f"; did you mean {close!r}?" if close else " (e.g. Asia/Shanghai)"
        report.error(node, f"unknown IANA timezone {name!r}{hint}")
        return None
    return name


def _suggest_zone(name: str) -> str | None:
    import difflib  # noqa: PLC0415 - only when something is misspelt

    matches = difflib.get_close_matches(name, _zones(), n=1, cutoff=0.6)
    return matches[0] if matches else None


@cache
def _zones() -> tuple[str, ...]:
    # Slow (walks the tz database), hence only for suggestions, and once.
    return tuple(sorted(zoneinfo.available_timezones()))


def read_date(report: Reporter, node: Node, what: str) -> date | None:
    """A calendar date: an unquoted YAML date or a quoted ``"YYYY-MM-DD"``, 1970 to 2999."""
    value = _read_date(report, node, what)
    if value is not None and not FIRST_DATE <= value <= LAST_DATE:
        report.error(
            node, f"{what} {value} is out of range: dates run from {FIRST_DATE} to {LAST_DATE}"
        )
        return None
    return value


def _read_date(report: Reporter, node: Node, what: str) -> date | None:
    scalar = _scalar(report, node, what, "a date YYYY-MM-DD")
    if scalar is None:
        return None
    text = scalar.value
    if scalar.tag == _TIMESTAMP_TAG:
        try:
            value = construct(scalar)
        except ValueError:
            report.error(node, f"{what} {text!r} is not a valid date")
            return None
        if isinstance(value, datetime):
            report.error(node, f"{what} must be a date without a time, not {text!r}")
            return None
        return value  # type: ignore[no-any-return]
    if scalar.tag != _STR_TAG or not _ISO_DATE.fullmatch(text):
        report.error(node, f"{what} must be a date YYYY-MM-DD, not {describe(node)}")
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        report.error(node, f"{what} {text!r} is not a valid date")
        return None


def read_data_time(report: Reporter, node: Node) -> str | None:
    """``HH:MM:SS``, normalised to two-digit hours.

    YAML 1.1 reads an unquoted ``10:00:00`` as the base-60 integer 36000; the node's source
    text is what the user wrote, so that is what is read.
    """
    expected = 'a time of day "HH:MM:SS"'
    scalar = _scalar(report, node, "data_time", expected)
    if scalar is None:
        return None
    match = _DATA_TIME.fullmatch(scalar.value)
    sexagesimal = scalar.tag == _INT_TAG and ":" in scalar.value
    if match is None or not (scalar.tag == _STR_TAG or sexagesimal):
        found = repr(scalar.value) if scalar.tag in (_STR_TAG, _INT_TAG) else describe(node)
        report.error(node, f'data_time must be {expected} such as "10:00:00", not {found}')
        return None
    hours, minutes, seconds = (int(part) for part in match.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        report.error(node, f"data_time {scalar.value!r} is not a time of day (00:00:00-23:59:59)")
        return None
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}"


def read_job(report: Reporter, node: Node) -> tuple[int, int] | None:
    """A job id (``123``) or an inclusive range (``"200-210"``), as ``(first, last)``."""
    expected = 'a job id (123) or an inclusive range ("200-210")'
    scalar = _scalar(report, node, "a job", expected)
    if scalar is None:
        return None
    text = scalar.value
    # Quoted ("123") or not, a job id is its decimal text: no 0x1F, 1_000 or base-60 1:30.
    if scalar.tag in (_INT_TAG, _STR_TAG) and _DIGITS.fullmatch(text):
        first = last = int(text)
    elif scalar.tag == _STR_TAG and (match := _JOB_RANGE.fullmatch(text)):
        first, last = int(match.group(1)), int(match.group(2))
    elif scalar.tag == _INT_TAG and text.lstrip().startswith("-"):
        report.error(node, f"job ids are positive integers, not {text!r}")
        return None
    else:
        report.error(node, f"a job must be {expected}, not {describe(node)}")
        return None
    if first < 1:
        report.error(node, f"job ids are positive integers, not {text!r}")
        return None
    if last > MAX_JOB_ID:
        report.error(node, f"job ids end at {MAX_JOB_ID} (a Java long), not {text!r}")
        return None
    if first > last:
        report.error(node, f'job range {text!r} is reversed: write "{last}-{first}"')
        return None
    return first, last


def read_rate(report: Reporter, node: Node) -> Rate | None:
    scalar = _scalar(report, node, "rate", "a rate such as 100/min")
    if scalar is None:
        return None
    try:
        return parse_rate(scalar.value)
    except ValueError as exc:
        report.error(node, str(exc))
        return None


def read_choice(report: Reporter, node: Node, what: str, choices: tuple[str, ...]) -> str | None:
    scalar = _scalar(report, node, what, f"one of {', '.join(choices)}")
    if scalar is None:
        return None
    if scalar.tag != _STR_TAG or scalar.value not in choices:
        report.error(node, f"{what} must be one of {', '.join(choices)}, not {describe(node)}")
        return None
    return str(scalar.value)
