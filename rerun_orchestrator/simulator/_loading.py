"""Reading a simulator config from parsed YAML/JSON, with errors that name the key.

Kept apart from the value objects in `_config`, which validate themselves; this module
only translates YAML shapes (``"A-B"`` ranges, ``{start, end}`` dates, YAML 1.1's
sexagesimal times) into them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Any

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
    if not isinstance(data, Mapping):
        raise SimulatorConfigError("the config must be a mapping")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise SimulatorConfigError(f"unknown key(s) {unknown}; allowed: {sorted(_TOP_KEYS)}")
    kwargs: dict[str, Any] = {k: v for k, v in data.items() if v is not None}
    if "history_limit" in data and data["history_limit"] is None:
        kwargs["history_limit"] = None  # null: keep every instance
    for key, types in _SCALARS.items():
        value = kwargs.get(key)
        if value is None:
            continue
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            raise SimulatorConfigError(f"{key}: expected {types[-1].__name__}, got {value!r}")
    if "credentials" in data:
        items = _list(data, "credentials")
        kwargs["credentials"] = tuple(
            _credential(item, f"credentials[{i}]") for i, item in enumerate(items)
        )
    if "jobs" in data:
        jobs = _list(data, "jobs")
        kwargs["jobs"] = tuple(_job(item, f"jobs[{i}]") for i, item in enumerate(jobs))
    if "faults" in data:
        rules = []
        for i, item in enumerate(_list(data, "faults")):
            try:
                rules.append(FaultRule.from_mapping(item))
            except ValueError as exc:
                raise SimulatorConfigError(f"faults[{i}]: {exc}") from None
        kwargs["faults"] = tuple(rules)
    if "quota" in data:
        quota = data["quota"]
        if not isinstance(quota, Mapping):
            raise SimulatorConfigError("quota must map API names to rates")
        # Listed APIs replace the defaults one by one; the rest keep theirs.
        kwargs["quota"] = {**DEFAULT_QUOTA, **{str(k): v for k, v in quota.items()}}
    if "default_quota" in data:
        kwargs["default_quota"] = data["default_quota"]
    if "business_error_codes" in data:
        codes = data["business_error_codes"]
        if not isinstance(codes, Mapping):
            raise SimulatorConfigError("business_error_codes must map reasons to integers")
        kwargs["business_error_codes"] = {**DEFAULT_BUSINESS_CODES, **codes}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise SimulatorConfigError(str(exc)) from None


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
