"""From YAML text to a `Plan`, reporting every problem with its position.

The walk follows the plan format key by key over the composed node tree. We chose this
over a schema library (jsonschema, pydantic): those validate loaded Python objects, which
have lost their line numbers and the source text of scalars (YAML 1.1 turns ``10:00:00``
into 36000), report type errors as generic messages, and cannot express the checks that
matter most here (overlapping days, credential keys, zone offsets). The JSON Schema that
editors use is published separately (`plan_json_schema`) and a test keeps both in step.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from .._limits import int_bounds_error
from . import _fields as f
from ._checks import check_size, report_overlaps, warn_quota, warn_zone
from ._diagnostics import Diagnostic, PlanError, ordered
from ._keys import (
    EXECUTION_KEYS,
    EXTENSION_PREFIX,
    LOCATION_KEYS,
    TARGET_KEYS,
    TOP_KEYS,
    WINDOW_KEYS,
    report_unknown_key,
    scan_credentials,
)
from ._model import DEFAULT_CHUNK_DAYS, Execution
from ._neighbour import NEIGHBOUR_KEYS, read_neighbour_key, read_target_execution
from ._overlaps import Rect
from ._plan import Plan, Target, Window
from ._source import read_plan_text
from ._yaml import MappingNode, Node, Reporter, SequenceNode, compose, mapping_items

_REQUIRED_TOP = ("version", "name", "timezone", "targets")
_REQUIRED_LOCATION = ("region", "namespace", "group", "data_time")
_INVALID = object()  # a key that is present but whose value was reported as wrong


def check_plan_text(
    text: str,
    path: str = "<string>",
    *,
    max_chunks: int | None = None,
    known_regions: Collection[str] | None = None,
) -> tuple[Plan | None, list[Diagnostic]]:
    """Validate plan text; never raises for bad input.

    Args:
        text: the YAML document.
        path: how diagnostics name the file (and `Plan.path`).
        max_chunks: refuse plans that expand to more chunks (default: the plan's
            ``execution.max_chunks``, else 1,000,000).
        known_regions: when given, a region outside it is an error, with the closest
            known one as a suggestion (`validate` passes SchedulerX's endpoint map; `run`
            does not, as an endpoint override may reach other regions).

    Returns:
        ``(plan, diagnostics)``: errors first, then warnings; `plan` is None if any error.

    Raises:
        ValueError: `max_chunks` is outside ``INT_BOUNDS["max_chunks"]``.
    """
    plan, diagnostics, _ = check_with_entries(text, path, max_chunks, known_regions)
    return plan, diagnostics


def check_with_entries(
    text: str, path: str, max_chunks: int | None, known_regions: Collection[str] | None
) -> tuple[Plan | None, list[Diagnostic], list[Rect]]:
    """`check_plan_text`, and the plan's (job range x window) entries for checks across
    plans (`check_plans`)."""
    if max_chunks is not None and (problem := int_bounds_error("max_chunks", max_chunks)):
        raise ValueError(problem)
    report = Reporter(path)
    walk = _Walk(report, known_regions)
    try:
        plan = walk.plan(text, max_chunks)
    except RecursionError:
        # The composer bounds nesting and merges are bounded too; this is the last guard
        # (a small recursion limit set by a host): a deep document must not crash a command.
        report.at(1, 1, "YAML error: the document is nested too deeply to be a plan")
        plan = None
    diagnostics = ordered(dict.fromkeys(report.diagnostics))  # aliases can repeat a problem
    return (None if report.failed else plan), diagnostics, walk.rects


def check_plan(
    path: str | os.PathLike[str],
    *,
    max_chunks: int | None = None,
    known_regions: Collection[str] | None = None,
) -> tuple[Plan | None, list[Diagnostic]]:
    """Read and validate a plan file; unreadable files are diagnostics too, never raised.

    The keywords are `check_plan_text`'s.
    """
    name = os.fspath(path)
    text = read_plan_text(name)
    if isinstance(text, Diagnostic):
        return None, [text]
    return check_plan_text(text, name, max_chunks=max_chunks, known_regions=known_regions)


def load_plan(path: str | os.PathLike[str], *, max_chunks: int | None = None) -> Plan:
    """The plan in `path`.

    Raises:
        PlanError: any error (warnings alone do not raise; see `check_plan` for them).
    """
    plan, diagnostics = check_plan(path, max_chunks=max_chunks)
    if plan is None:
        raise PlanError(diagnostics)
    return plan


@dataclass
class _Value:
    value: Any
    node: Node


class _Walk:
    def __init__(self, report: Reporter, known_regions: Collection[str] | None) -> None:
        self.report = report
        self.known_regions = known_regions
        self.rects: list[Rect] = []
        self.region_nodes: list[Node | None] = []  # per target: where its region is set
        self.rate_nodes: dict[str, Node] = {}  # rate, account_quota: where they are set

    def plan(self, text: str, max_chunks: int | None) -> Plan | None:
        report = self.report
        root = compose(text, report)
        if root is None:
            return None
        if not isinstance(root, MappingNode):
            report.error(
                root, "a plan is a mapping of keys (version, name, timezone, targets, ...)"
            )
            return None
        scan_credentials(root, report)
        top = self._keys(root, TOP_KEYS, "the top level")
        for key in _REQUIRED_TOP:
            if key not in top:
                report.error(root, f"missing required key {key!r}{_HINTS.get(key, '')}")
        version = self._read(top, "version", f.read_version)
        name = self._read(top, "name", f.read_name)
        timezone = self._read(top, "timezone", f.read_timezone)
        defaults = self._location(top)
        execution = self._execution(top.get("execution"))
        targets = self._targets(root, top.get("targets"), defaults)
        report_overlaps(report, self.rects)
        if report.failed or None in (version, name, timezone, execution, targets):
            return None
        assert isinstance(name, str)
        assert isinstance(timezone, str)
        assert execution is not None
        assert targets is not None
        plan = Plan(
            name=name,
            timezone=timezone,
            targets=tuple(targets),
            execution=execution,
            version=1,
            path=None if report.path == "<string>" else report.path,
        )
        check_size(report, plan, top["targets"][0], max_chunks or execution.max_chunks)
        warn_zone(report, plan, self.region_nodes, root)
        warn_quota(report, plan, self.rate_nodes, root)
        return plan

    def _keys(self, node: MappingNode, allowed: tuple[str, ...], scope: str) -> dict[str, Any]:
        """Known keys of a mapping as ``key -> (key node, value node)``; others reported."""
        known: dict[str, tuple[Node, Node]] = {}
        for key, key_node, value_node in mapping_items(node, self.report):
            if scope == "the top level" and key.startswith(EXTENSION_PREFIX):
                continue
            if key in allowed:
                known[key] = (key_node, value_node)
            else:
                report_unknown_key(self.report, key, key_node, scope)
        return known

    def _read(self, keys: dict[str, Any], key: str, reader: Any) -> Any:
        if key not in keys:
            return None
        return reader(self.report, keys[key][1])

    def _location(self, keys: dict[str, Any]) -> dict[str, Any]:
        """The location keys present in a mapping: `_Value`, or `_INVALID` once reported."""
        found: dict[str, Any] = {}
        for key in LOCATION_KEYS:
            if key in keys:
                node = keys[key][1]
                value = _read_location(self.report, key, node)
                if key == "region" and value is not None and self.known_regions is not None:
                    value = f.check_known_region(self.report, node, value, self.known_regions)
                ok = value is not None or (key == "namespace_source" and _is_null(node))
                found[key] = _Value(value, node) if ok else _INVALID
        return found

    def _targets(
        self, root: MappingNode, entry: Any, defaults: dict[str, Any]
    ) -> list[Target] | None:
        if entry is None:
            return None
        node = entry[1]
        if not isinstance(node, SequenceNode) or not node.value:
            self.report.error(node, "targets must be a non-empty list of targets (jobs x windows)")
            return None
        in_some_target = {
            key: any(
                isinstance(t, MappingNode) and _has_key(t, key, self.report) for t in node.value
            )
            for key in _REQUIRED_LOCATION
        }
        for key in _REQUIRED_LOCATION:
            if key not in defaults and not in_some_target[key]:
                self.report.error(
                    root, f"missing required key {key!r} (at the top or in every target)"
                )
        targets = []
        for index, target_node in enumerate(node.value):
            targets.append(self._target(index, target_node, defaults, in_some_target))
        return None if None in targets else targets  # type: ignore[return-value]

    def _target(
        self, index: int, node: Node, defaults: dict[str, Any], in_some_target: dict[str, bool]
    ) -> Target | None:
        report = self.report
        if not isinstance(node, MappingNode):
            report.error(node, "a target must be a mapping with jobs and windows")
            return None
        keys = self._keys(node, TARGET_KEYS, "a target")
        for key in ("jobs", "windows"):
            if key not in keys:
                report.error(node, f"target is missing {key!r}")
        resolved = {**defaults, **self._location(keys)}
        region = resolved.get("region")
        self.region_nodes.append(region.node if isinstance(region, _Value) else None)
        for key in _REQUIRED_LOCATION:
            if key not in resolved and in_some_target[key]:
                report.error(node, f"target is missing {key!r} (set it here or at the top level)")
        jobs = self._jobs(keys.get("jobs"))
        windows = self._windows(keys.get("windows"))
        own = read_target_execution(report, keys["execution"][1]) if "execution" in keys else None
        location = {k: v.value for k, v in resolved.items() if isinstance(v, _Value)}
        if all(k in location for k in ("region", "namespace", "group")) and jobs and windows:
            self._add_rects(
                index, (location["region"], location["namespace"], location["group"]), jobs, windows
            )
        if (
            jobs is None
            or windows is None
            or any(k not in location for k in _REQUIRED_LOCATION)
            or any(v is _INVALID for v in resolved.values())
            or ("execution" in keys and own is None)
        ):
            return None
        return Target(
            region=location["region"],
            namespace=location["namespace"],
            namespace_source=location.get("namespace_source"),
            group_id=location["group"],
            data_time=location["data_time"],
            chunk_days=location.get("chunk_days", DEFAULT_CHUNK_DAYS),
            jobs=tuple(job for job, _ in jobs),
            windows=tuple(window for window, _ in windows),
            execution=own,
        )

    def _jobs(self, entry: Any) -> list[tuple[tuple[int, int], Node]] | None:
        if entry is None:
            return None
        node = entry[1]
        if not isinstance(node, SequenceNode) or not node.value:
            self.report.error(node, 'jobs must be a non-empty list of job ids and "A-B" ranges')
            return None
        jobs = [(f.read_job(self.report, item), item) for item in node.value]
        if any(job is None for job, _ in jobs):
            return None
        return jobs  # type: ignore[return-value]

    def _windows(self, entry: Any) -> list[tuple[Window, Node]] | None:
        if entry is None:
            return None
        node = entry[1]
        if not isinstance(node, SequenceNode) or not node.value:
            self.report.error(node, "windows must be a non-empty list of {start, end} dates")
            return None
        windows = [(self._window(item), item) for item in node.value]
        if any(window is None for window, _ in windows):
            return None
        return windows  # type: ignore[return-value]

    def _window(self, node: Node) -> Window | None:
        report = self.report
        if not isinstance(node, MappingNode):
            report.error(node, "a window must be a mapping {start: YYYY-MM-DD, end: YYYY-MM-DD}")
            return None
        keys = self._keys(node, WINDOW_KEYS, "a window")
        for key in WINDOW_KEYS:
            if key not in keys:
                report.error(node, f"window is missing {key!r}")
        start = self._read(keys, "start", lambda r, n: f.read_date(r, n, "start"))
        end = self._read(keys, "end", lambda r, n: f.read_date(r, n, "end"))
        if start is None or end is None:
            return None
        if end < start:
            report.error(keys["end"][1], f"window end {end} is before its start {start}")
            return None
        return Window(start, end)

    def _execution(self, entry: Any) -> Execution | None:
        if entry is None or _is_null(entry[1]):
            return Execution()
        node = entry[1]
        if not isinstance(node, MappingNode):
            self.report.error(node, "execution must be a mapping (rate, concurrency, ...)")
            return None
        keys = self._keys(node, EXECUTION_KEYS, "execution")
        values: dict[str, Any] = {}
        for key, (_, value_node) in keys.items():
            if key in ("rate", "account_quota"):
                values[key] = f.read_rate(self.report, value_node)
                self.rate_nodes[key] = value_node
            elif key in NEIGHBOUR_KEYS:
                values[key] = read_neighbour_key(self.report, key, value_node)
            elif key == "order":
                values[key] = f.read_choice(
                    self.report, value_node, "order", ("oldest_first", "newest_first")
                )
            else:
                values[key] = f.read_int(self.report, value_node, key)
        if None in values.values():
            return None
        return Execution(**values)

    def _add_rects(
        self,
        index: int,
        location: tuple[str, str, str],
        jobs: list[tuple[tuple[int, int], Node]],
        windows: list[tuple[Window, Node]],
    ) -> None:
        for job_index, ((first, last), job_node) in enumerate(jobs):
            for window_index, (window, window_node) in enumerate(windows):
                self.rects.append(
                    Rect(
                        location,
                        first,
                        last,
                        window.start.toordinal(),
                        window.end.toordinal(),
                        (index, job_index, window_index),
                        job_node,
                        window_node,
                    )
                )


_HINTS = {
    "version": " (write version: 1)",
    "name": " (names the backfill: journal, logs, report)",
    "timezone": " (the IANA zone in which days are cut, e.g. Asia/Shanghai)",
    "targets": " (a list of {jobs, windows})",
}


def _read_location(report: Reporter, key: str, node: Node) -> Any:
    if key == "region":
        return f.read_region(report, node)
    if key == "data_time":
        return f.read_data_time(report, node)
    if key == "chunk_days":
        return f.read_int(report, node, "chunk_days")
    if key == "namespace_source" and _is_null(node):
        return None
    return f.read_identifier(report, node, key)


def _is_null(node: Node) -> bool:
    return node.tag == "tag:yaml.org,2002:null"


def _has_key(node: MappingNode, key: str, report: Reporter) -> bool:
    # The problems of its keys are the target's own walk's, which reads the same entries.
    return any(k == key for k, _, _ in mapping_items(node, report))
