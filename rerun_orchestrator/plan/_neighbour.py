"""The good-neighbour keys of `execution`: caps on active instances and run windows.

`max_active_per_job` (an int or ``auto``: the job's MaxConcurrency from pre-flight),
`max_active_per_group` (an int; no cap by default), `read_rate` (the read APIs' pace) and
`windows` (when RerunJob may be sent, in the plan's timezone). The values are plain
immutable data (`_model.Execution`, `_run_windows`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from typing import Any, Literal

from ._fields import read_int, read_rate
from ._run_windows import RunWindow, RunWindows
from ._yaml import MappingNode, Node, Reporter, ScalarNode, SequenceNode, describe, mapping_items

NEIGHBOUR_KEYS = ("max_active_per_job", "max_active_per_group", "read_rate", "windows")
#: What a target's own ``execution:`` may set (the rest is the plan's, for the whole run).
TARGET_EXECUTION_KEYS = ("max_active_per_job", "max_active_per_group")


@dataclass(frozen=True, slots=True)
class TargetExecution:
    """A target's own caps; None: the plan's ``execution`` value."""

    max_active_per_job: int | Literal["auto"] | None = None
    max_active_per_group: int | None = None


RUN_WINDOW_KEYS = ("days", "start", "end")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_SETS = {
    "daily": frozenset(range(7)),
    "weekdays": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
}
_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$", re.ASCII)


def read_neighbour_key(report: Reporter, key: str, node: Node) -> Any:
    """The value of one good-neighbour key of `execution`, or None once reported."""
    if key == "max_active_per_job":
        if isinstance(node, ScalarNode) and node.value == "auto":
            return "auto"
        return read_int(report, node, key)
    if key == "max_active_per_group":
        return read_int(report, node, key)
    if key == "read_rate":
        return read_rate(report, node)
    return _read_windows(report, node)


def read_target_execution(report: Reporter, node: Node) -> TargetExecution | None:
    """A target's ``execution:`` mapping (its caps), or None once reported."""
    if not isinstance(node, MappingNode):
        report.error(
            node,
            "a target's execution must be a mapping (max_active_per_job, ...), "
            f"not {describe(node)}",
        )
        return None
    values: dict[str, Any] = {}
    failed = False
    for key, key_node, value_node in mapping_items(node, report):
        if key not in TARGET_EXECUTION_KEYS:
            report.error(
                key_node,
                f"{key!r} cannot be set in a target's execution; allowed: "
                + ", ".join(TARGET_EXECUTION_KEYS),
            )
            failed = True
            continue
        values[key] = read_neighbour_key(report, key, value_node)
        failed = failed or values[key] is None
    return None if failed else TargetExecution(**values)


def _read_windows(report: Reporter, node: Node) -> RunWindows | None:
    if not isinstance(node, SequenceNode) or not node.value:
        report.error(
            node, f"windows must be a list of {{days, start, end}} mappings, not {describe(node)}"
        )
        return None
    windows = [_read_window(report, item) for item in node.value]
    if any(w is None for w in windows):
        return None
    return RunWindows(tuple(w for w in windows if w is not None))


def _read_window(report: Reporter, node: Node) -> RunWindow | None:
    if not isinstance(node, MappingNode):
        report.error(
            node, f"a run window must be a mapping {{days, start, end}}, not {describe(node)}"
        )
        return None
    keys: dict[str, Node] = {}
    for key, key_node, value_node in mapping_items(node, report):
        if key in RUN_WINDOW_KEYS:
            keys[key] = value_node
        else:
            report.error(
                key_node, f"unknown key {key!r} in a run window; allowed: days, start, end"
            )
    missing = [key for key in RUN_WINDOW_KEYS if key not in keys]
    if missing:
        report.error(node, f"run window is missing {', '.join(repr(k) for k in missing)}")
        return None
    days = _read_days(report, keys["days"])
    start = _read_clock(report, keys["start"], "start")
    end = _read_clock(report, keys["end"], "end")
    if days is None or start is None or end is None:
        return None
    if start == end:
        report.error(keys["end"], f"run window end {end:%H:%M} equals its start: it never opens")
        return None
    return RunWindow(days, start, end)


def _read_days(report: Reporter, node: Node) -> frozenset[int] | None:
    expected = "daily, weekdays, weekends or days such as mon,tue"
    if not isinstance(node, ScalarNode):
        report.error(node, f"days must be {expected}, not {describe(node)}")
        return None
    text = node.value.strip().lower()
    if text in _DAY_SETS:
        return _DAY_SETS[text]
    names = [part.strip() for part in text.split(",")]
    unknown = [name for name in names if name not in WEEKDAYS]
    if unknown or not names:
        report.error(node, f"days must be {expected}, not {node.value!r}")
        return None
    return frozenset(WEEKDAYS.index(name) for name in names)


def _read_clock(report: Reporter, node: Node, what: str) -> time | None:
    # quoted or not: an unquoted 20:00 is YAML 1.1's base-60 integer, but its text is kept
    match = _HH_MM.fullmatch(node.value.strip()) if isinstance(node, ScalarNode) else None
    if match is None:
        report.error(
            node, f'{what} must be a local time "HH:MM" (00:00-23:59), not {describe(node)}'
        )
        return None
    return time(int(match.group(1)), int(match.group(2)))


__all__ = [
    "NEIGHBOUR_KEYS",
    "TARGET_EXECUTION_KEYS",
    "TargetExecution",
    "read_neighbour_key",
    "read_target_execution",
]
