"""Reading a simulator config from parsed YAML/JSON, with errors that name the key.

Kept apart from the value objects in `_config`, which validate themselves; this module
only translates YAML shapes (``"A-B"`` ranges, ``{start, end}`` dates, YAML 1.1's
sexagesimal times) into them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from ._config import (
    DEFAULT_BUSINESS_CODES,
    DEFAULT_QUOTA,
    CredentialSpec,
    JobSpec,
    SimulatorConfig,
    SimulatorConfigError,
)
from ._faults import FaultRule

_TOP_KEYS = frozenset(f.name for f in SimulatorConfig.__dataclass_fields__.values())
_JOB_KEYS = frozenset(JobSpec.__dataclass_fields__)
_CRED_KEYS = frozenset(CredentialSpec.__dataclass_fields__)
_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")
# Scalar keys and the YAML types they accept (bool is excluded from the numbers below).
_SCALARS: Mapping[str, tuple[type, ...]] = MappingProxyType(
    {
        "server_timezone": (str,),
        "retry_after_header": (bool,),
        "instance_list_filter": (str,),
        "instance_list_order": (str,),
        "instance_list_max_page_size": (int,),
        "instance_wait_seconds": (int, float),
        "instance_run_seconds": (int, float),
        "instance_run_spread": (int, float),
        "failure_rate": (int, float),
        "retry_failure_rate": (int, float),
        "over_concurrency": (str,),
        "history_limit": (int,),
        "max_rerun_days": (int,),
        "timestamp_window_seconds": (int, float),
        "seed": (int,),
    }
)


def config_from_mapping(cls: type[SimulatorConfig], data: Mapping[str, Any]) -> SimulatorConfig:
    """The config `data` describes; every problem of every section at once, each line
    starting with where it is (``jobs[2].job_ids[0]: ...``)."""
    if not isinstance(data, Mapping):
        raise SimulatorConfigError("the config must be a mapping")
    problems: list[str] = []
    for key in sorted(set(data) - _TOP_KEYS, key=str):
        close = difflib.get_close_matches(str(key), sorted(_TOP_KEYS), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed: {sorted(_TOP_KEYS)}"
        problems.append(f"{key}: unknown key; {hint}")
    kwargs: dict[str, Any] = {k: v for k, v in data.items() if v is not None and k in _TOP_KEYS}
    if "history_limit" in data and data["history_limit"] is None:
        kwargs["history_limit"] = None  # null: keep every instance
    for key, types in _SCALARS.items():
        value = kwargs.get(key)
        if value is None:
            continue
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            problems.append(f"{key}: expected {types[-1].__name__}, got {value!r}")
    for key, read in _SECTIONS.items():
        if key in data:
            try:
                kwargs[key] = read(data, key)
            except SimulatorConfigError as exc:
                problems += exc.problems
    if problems:
        raise _all(problems)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise SimulatorConfigError(str(exc)) from None


def _all(problems: list[str]) -> SimulatorConfigError:
    return SimulatorConfigError("\n".join(problems), tuple(problems))


def _each(data: Mapping[str, Any], key: str, read: Callable[[Any, str], Any]) -> tuple[Any, ...]:
    """`read` of every item of the list at `key`; the problems of all of them at once."""
    problems: list[str] = []
    values = []
    try:
        items = _list(data, key)
    except SimulatorConfigError as exc:
        raise _all([str(exc)]) from None
    for i, item in enumerate(items):
        try:
            values.append(read(item, f"{key}[{i}]"))
        except SimulatorConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise _all(problems)
    return tuple(values)


def _fault(item: Any, where: str) -> FaultRule:
    try:
        return FaultRule.from_mapping(item)
    except ValueError as exc:
        raise SimulatorConfigError(f"{where}: {exc}") from None


def _one(read: Callable[[Any], Any]) -> Callable[[Mapping[str, Any], str], Any]:
    def section(data: Mapping[str, Any], key: str) -> Any:
        try:
            return read(data[key])
        except SimulatorConfigError as exc:
            raise _all([str(exc)]) from None

    return section


def _quota(quota: Any) -> dict[str, Any]:
    if not isinstance(quota, Mapping):
        raise SimulatorConfigError("quota: must map API names to rates")
    # Listed APIs replace the defaults one by one; the rest keep theirs.
    return {**DEFAULT_QUOTA, **{str(k): v for k, v in quota.items()}}


def _business_codes(codes: Any) -> dict[str, Any]:
    if not isinstance(codes, Mapping):
        raise SimulatorConfigError("business_error_codes: must map reasons to integers")
    return {**DEFAULT_BUSINESS_CODES, **codes}


_SECTIONS: Mapping[str, Callable[[Mapping[str, Any], str], Any]] = MappingProxyType(
    {
        "credentials": lambda data, key: _each(data, key, _credential),
        "jobs": lambda data, key: _each(data, key, _job),
        "faults": lambda data, key: _each(data, key, _fault),
        "quota": _one(_quota),
        "default_quota": lambda data, key: data[key],
        "business_error_codes": _one(_business_codes),
    }
)


def config_from_yaml(cls: type[SimulatorConfig], path: str | Path) -> SimulatorConfig:
    """Load a YAML config file; every problem as ``PATH:LINE:COL: where: message``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)  # the same document, with marks
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SimulatorConfigError(f"{path}: cannot read config: {exc}") from None
    except RecursionError:  # PyYAML recurses once per nesting level
        raise SimulatorConfigError(f"{path}: cannot read config: nested too deeply") from None
    try:
        return cls.from_mapping({} if data is None else data)
    except SimulatorConfigError as exc:
        lines = tuple(f"{path}:{_position(root, problem)}: {problem}" for problem in exc.problems)
        raise SimulatorConfigError("\n".join(lines), lines) from None


_WHERE = re.compile(r"^[A-Za-z_][\w.\[\]]*(?=: )")
_STEP = re.compile(r"[^.\[\]]+|\[\d+\]")


def _position(root: yaml.Node | None, problem: str) -> str:
    """``LINE:COL`` of the node a problem names (``jobs[2].job_ids[0]: ...``), or of the
    nearest node on its path that exists; 1:1 when it names none."""
    node, where = root, _WHERE.match(problem)
    for step in _STEP.findall(where.group(0)) if where and node is not None else ():
        if step.startswith("[") and isinstance(node, yaml.SequenceNode):
            index = int(step[1:-1])
            if index >= len(node.value):
                break
            node = node.value[index]
        elif isinstance(node, yaml.MappingNode):
            found = [pair for pair in node.value if getattr(pair[0], "value", None) == step]
            if not found:
                break
            # An unknown key is pointed at itself, anything else at its value.
            node = found[0][0] if ": unknown key" in problem else found[0][1]
        else:
            break
    if node is None:
        return "1:1"
    return f"{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data[key]
    if not isinstance(value, list):
        raise SimulatorConfigError(f"{key} must be a list")
    return value


def _credential(item: Any, where: str) -> CredentialSpec:
    if not isinstance(item, Mapping):
        raise SimulatorConfigError(f"{where}: must be a mapping")
    unknown = sorted(set(item) - _CRED_KEYS)
    if unknown:
        raise SimulatorConfigError(f"{where}: unknown key(s) {unknown}")
    token, account = item.get("security_token"), item.get("account")
    try:
        return CredentialSpec(
            access_key_id=str(item.get("access_key_id") or ""),
            access_key_secret=str(item.get("access_key_secret") or ""),
            security_token=None if token is None else str(token),
            account=None if account is None else str(account),
        )
    except SimulatorConfigError as exc:
        raise SimulatorConfigError(f"{where}: {exc}") from None


def _job(item: Any, where: str) -> JobSpec:
    if not isinstance(item, Mapping):
        raise SimulatorConfigError(f"{where}: must be a mapping")
    unknown = sorted(set(item) - _JOB_KEYS)
    if unknown:
        raise SimulatorConfigError(f"{where}: unknown key(s) {unknown}")
    missing = [k for k in ("region", "namespace", "group", "job_ids") if k not in item]
    if missing:
        raise SimulatorConfigError(f"{where}: missing key(s) {missing}")
    ids = item["job_ids"]
    if not isinstance(ids, list):
        ids = [ids]
    try:
        return JobSpec(
            region=str(item["region"]),
            namespace=str(item["namespace"]),
            group=str(item["group"]),
            job_ids=tuple(_job_range(v, f"{where}.job_ids[{i}]") for i, v in enumerate(ids)),
            edition=str(item.get("edition", "professional")),
            namespace_source=None
            if item.get("namespace_source") is None
            else str(item["namespace_source"]),
            max_concurrency=_int(item.get("max_concurrency", 1), f"{where}.max_concurrency"),
            history=_history(item.get("history"), f"{where}.history"),
            history_time=_time_text(item.get("history_time", "00:00:00")),
            enabled=_bool(item.get("enabled", True), f"{where}.enabled"),
            cron=None if item.get("cron") is None else str(item["cron"]),
            production=_bool(item.get("production", False), f"{where}.production"),
            time_type=_int(item.get("time_type", 1), f"{where}.time_type"),
            every_seconds=None
            if item.get("every_seconds") is None
            else _int(item["every_seconds"], f"{where}.every_seconds"),
            run_seconds=_seconds(item.get("run_seconds"), f"{where}.run_seconds"),
            group_capacity=None
            if item.get("group_capacity") is None
            else _int(item["group_capacity"], f"{where}.group_capacity"),
        )
    except SimulatorConfigError as exc:
        if str(exc).startswith(where):
            raise
        raise SimulatorConfigError(f"{where}: {exc}") from None


def _job_range(value: Any, where: str) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, str):
        if value.strip().isdigit():
            return (int(value), int(value))
        match = _RANGE.match(value)
        if match is not None:
            return (int(match[1]), int(match[2]))
    raise SimulatorConfigError(f"{where}: a job id is an integer or an 'A-B' range, got {value!r}")


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SimulatorConfigError(f"{where}: must be an integer, got {value!r}")
    return value


def _seconds(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SimulatorConfigError(f"{where}: must be a number of seconds, got {value!r}")
    return float(value)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise SimulatorConfigError(f"{where}: must be true or false, got {value!r}")
    return value


def _time_text(value: Any) -> str:
    # YAML 1.1 reads an unquoted 10:00:00 as the sexagesimal integer 36000.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 86400:
        return f"{value // 3600:02d}:{value // 60 % 60:02d}:{value % 60:02d}"
    return str(value)


def _history(value: Any, where: str) -> tuple[date, date] | None:
    if value is None:
        return None
    if isinstance(value, Mapping) and set(value) == {"start", "end"}:
        pair = [value["start"], value["end"]]
    elif isinstance(value, list) and len(value) == 2:
        pair = list(value)
    else:
        raise SimulatorConfigError(f"{where}: use {{start: DATE, end: DATE}}")
    days = []
    for item in pair:
        if isinstance(item, date):
            days.append(item)
            continue
        try:
            days.append(date.fromisoformat(str(item)))
        except ValueError:
            raise SimulatorConfigError(f"{where}: {item!r} is not a YYYY-MM-DD date") from None
    return (days[0], days[1])
