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
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from . import _fields as f
from ._calendar import utc_offset_at
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
from ._model import Execution
from ._overlaps import Rect, find_overlaps
from ._plan import Plan, Target, Window
from ._yaml import MappingNode, Node, Reporter, SequenceNode, compose, mapping_items, position

_REQUIRED_TOP = ("version", "name", "timezone", "targets")
_REQUIRED_LOCATION = ("region", "namespace", "group", "data_time")
DEFAULT_CHUNK_DAYS = 7
_UTC8 = timedelta(hours=8)
_SERVER_ZONE = ZoneInfo("Asia/Shanghai")  # where SchedulerX cuts days for cn-* regions
_INVALID = object()  # a key that is present but whose value was reported as wrong


def check_plan_text(
    text: str, path: str = "<string>", *, max_chunks: int | None = None
) -> tuple[Plan | None, list[Diagnostic]]:
    """Validate plan text; never raises for bad input.

    Args:
        text: the YAML document.
        path: how diagnostics name the file (and `Plan.path`).
        max_chunks: refuse plans that expand to more chunks (default: the plan's
            ``execution.max_chunks``, else 1,000,000).

    Returns:
        ``(plan, diagnostics)``: errors first, then warnings; `plan` is None if any error.
    """
    report = Reporter(path)
    plan = _Walk(report).plan(text, max_chunks)
    diagnostics = ordered(dict.fromkeys(report.diagnostics))  # aliases can repeat a problem
    return (None if report.failed else plan), diagnostics


def check_plan(
    path: str | os.PathLike[str], *, max_chunks: int | None = None
) -> tuple[Plan | None, list[Diagnostic]]:
    """Read and validate a plan file; unreadable files are diagnostics too, never raised."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as stream:
            text = stream.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, [Diagnostic(name, 1, 1, f"cannot read the plan: {reason}")]
    return check_plan_text(text, name, max_chunks=max_chunks)


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
    def __init__(self, report: Reporter) -> None:
        self.report = report
        self.rects: list[Rect] = []
        self.region_nodes: list[Node | None] = []  # per target: where its region is set

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
        self._report_overlaps()
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
        self._check_size(plan, top["targets"][0], max_chunks or execution.max_chunks)
        self._warn_zone(plan, root)
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
        seen_in_all = {
            key: any(isinstance(t, MappingNode) and _has_key(t, key) for t in node.value)
            for key in _REQUIRED_LOCATION
        }
        for key in _REQUIRED_LOCATION:
            if key not in defaults and not seen_in_all[key]:
                self.report.error(
                    root, f"missing required key {key!r} (at the top or in every target)"
                )
        targets = []
        for index, target_node in enumerate(node.value):
            targets.append(self._target(index, target_node, defaults, seen_in_all))
        return None if None in targets else targets  # type: ignore[return-value]

    def _target(
        self, index: int, node: Node, defaults: dict[str, Any], seen_in_all: dict[str, bool]
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
            if key not in resolved and seen_in_all[key]:
                report.error(node, f"target is missing {key!r} (set it here or at the top level)")
        jobs = self._jobs(keys.get("jobs"))
        windows = self._windows(keys.get("windows"))
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
            if key == "rate":
                values[key] = f.read_rate(self.report, value_node)
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

    def _report_overlaps(self) -> None:
        said: set[tuple[int, int]] = set()  # (node, other node): one message per pair
        for first, second in find_overlaps(self.rects):
            jobs = _span(
                max(first.first_job, second.first_job), min(first.last_job, second.last_job)
            )
            day_from = date.fromordinal(max(first.first_day, second.first_day))
            day_to = date.fromordinal(min(first.last_day, second.last_day))
            days = str(day_from) if day_from == day_to else f"{day_from}..{day_to}"
            if first.order[:2] == second.order[:2]:
                node, other, why = second.window_node, first.window_node, "overlapping windows"
            elif first.order[0] == second.order[0]:
                node, other, why = second.job_node, first.job_node, "overlapping job ranges"
            else:
                node, other = second.job_node, first.job_node
                why = f"targets {first.order[0] + 1} and {second.order[0] + 1} overlap"
            if (id(node), id(other)) in said:
                continue
            said.add((id(node), id(other)))
            line, col = position(other)
            where = "/".join(second.location)
            self.report.error(
                node,
                f"{jobs} on {days} would be rerun twice in {where}: already planned at "
                f"{self.report.path}:{line}:{col} ({why})",
            )

    def _check_size(self, plan: Plan, key_node: Node, limit: int) -> None:
        count = plan.count_chunks()
        if count > limit:
            self.report.error(
                key_node,
                f"the plan expands to {count:,} chunks (RerunJob calls), more than the limit"
                f" of {limit:,}: split it, or raise the limit with --max-chunks or"
                " execution.max_chunks",
            )

    def _warn_zone(self, plan: Plan, root: MappingNode) -> None:
        """SchedulerX cuts days at UTC+8 midnight in cn-* regions; warn when we would not."""
        zone = ZoneInfo(plan.timezone)
        warned: set[int] = set()
        for target, region_node in zip(plan.targets, self.region_nodes, strict=True):
            if not target.region.startswith("cn-"):
                continue
            # Compared with Asia/Shanghai rather than a fixed +8: it had DST in 1986-1991.
            off = sorted(
                {
                    offset
                    for day in _sample_days(target)
                    if (offset := utc_offset_at(day, zone)) != utc_offset_at(day, _SERVER_ZONE)
                }
            )
            if not off:
                continue
            node = region_node or root
            if id(node) in warned:
                continue
            warned.add(id(node))
            side = (
                "the server's previous day" if off[-1] > _UTC8 else "a later hour of the same day"
            )
            self.report.warning(
                node,
                f"region {target.region} cuts days in Asia/Shanghai time (UTC+8) but the plan's "
                f"timezone {plan.timezone} is at UTC{_fmt_offset(off[-1])}: its midnight falls on "
                f"{side}; use timezone: Asia/Shanghai unless you know the server's zone differs",
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


def _has_key(node: MappingNode, key: str) -> bool:
    # A throwaway reporter: the target's own walk reports its key problems.
    return any(k == key for k, _, _ in mapping_items(node, Reporter("")))


def _span(first: int, last: int) -> str:
    return f"job {first}" if first == last else f"jobs {first}-{last}"


def _sample_days(target: Target) -> list[date]:
    days = [d for w in target.windows for d in (w.start, w.end)]
    years = range(target.first_day.year, target.last_day.year + 1)
    days += [date(y, m, 15) for y in years for m in (1, 7)]
    return days


def _fmt_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"
