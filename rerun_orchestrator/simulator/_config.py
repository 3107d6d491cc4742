"""What the simulated SchedulerX holds and how it behaves: credentials, jobs, quota, faults.

Value objects, validated when built, with a loader for the YAML format of the contract
(``server_timezone``, ``credentials``, ``jobs``, ``quota``) plus our extensions. Job ids
are stored as ranges, never expanded, so ``"1-100000"`` costs nothing until used.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .._quartz import QuartzCron, QuartzError
from ._calendar import load_zone, parse_time_of_day
from ._faults import FaultRule
from ._quota import QuotaSpec

EDITIONS = ("professional", "basic")
LIST_FILTERS = ("schedule_time", "data_time")
LIST_ORDERS = ("newest_first", "oldest_first")
OVER_CONCURRENCY = ("queue", "reject")
TIME_TYPES = (1, 3, 4, 100)  # cron, fix_rate, second_delay, api
# SchedulerX keeps the newest 300 instances of a job (docs/schedulerx-api.md §8)
DEFAULT_HISTORY_LIMIT = 300

# Business failure `Code`s (HTTP 200, Success=false). The real values are undocumented
# (docs/schedulerx-api.md §4.3), so each is configurable under `business_error_codes`.
DEFAULT_BUSINESS_CODES: Mapping[str, int] = MappingProxyType(
    {
        "namespace_not_found": 500,
        "group_not_found": 500,
        "job_not_found": 500,
        "job_group_mismatch": 500,
        "edition_not_supported": 500,
        "invalid_range": 500,
        "invalid_data_time": 500,
        "too_many_days": 500,
        "instance_not_found": 500,
        "instance_not_finished": 500,
        "missing_job": 500,
    }
)
DEFAULT_QUOTA: Mapping[str, str | QuotaSpec | None] = MappingProxyType(
    {"RerunJob": "100/min", "GetJobInstanceList": "100/min"}
)


class SimulatorConfigError(ValueError):
    """A simulator config is invalid; the message names the offending key.

    `problems` lists every problem found (one line each, the message joins them), so that
    a config is fixed in one round.
    """

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems or (message,)


@dataclass(frozen=True, slots=True)
class CredentialSpec:
    """An AccessKey the simulator accepts; `account` owns the quota (default: the key id).

    A `security_token` makes it an STS credential: requests must then carry exactly
    that token. The secret and the token never appear in the repr.
    """

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)
    account: str | None = None

    def __post_init__(self) -> None:
        if not self.access_key_id or not self.access_key_secret:
            raise SimulatorConfigError("a credential needs access_key_id and access_key_secret")

    @property
    def owner(self) -> str:
        """The account whose quota this key draws on."""
        return self.account or self.access_key_id


@dataclass(frozen=True, slots=True)
class JobSpec:
    """Jobs of one application group.

    Args:
        job_ids: inclusive ``(first, last)`` id ranges; a single job is ``(id, id)``.
        edition: ``professional`` or ``basic``; RerunJob needs professional.
        namespace_source: requests must send this NamespaceSource (None: send none).
        max_concurrency: instances of one job running at once; the rest wait. GetJobInfo
            answers it as ``MaxConcurrency``.
        history: days ``(first, last)`` with regular scheduled instances (TriggerType 1),
            scheduled at `history_time` on each day, as a real daily job has.
        enabled: GetJobInfo's ``Status`` (1 enabled, 0 disabled).
        cron: the schedule GetJobInfo answers (``TimeConfig``, TimeType 1), in SchedulerX's
            Quartz form with seconds; default: daily at `history_time`.
        time_type: ``TimeConfig.TimeType``: 1 cron (`cron`), 3 fix_rate or 4 second_delay
            (`time_expression` is then the seconds), 100 api (no schedule).
        production: fire scheduled runs (TriggerType 1) from the cron while the simulator
            runs; a run due while the job is busy (`max_concurrency` instances active) is
            skipped and recorded, as SchedulerX skips it. Expands the id ranges.
        run_seconds: this job's instance duration (default: `instance_run_seconds`).
        group_capacity: instances of the whole group running at once; the rest queue
            (app-group flow control). One value per group.
    """

    region: str
    namespace: str
    group: str
    job_ids: tuple[tuple[int, int], ...]
    edition: str = "professional"
    namespace_source: str | None = None
    max_concurrency: int = 1
    history: tuple[date, date] | None = None
    history_time: str = "00:00:00"
    enabled: bool = True
    cron: str | None = None
    production: bool = False
    time_type: int = 1
    every_seconds: int | None = None
    run_seconds: float | None = None
    group_capacity: int | None = None

    def __post_init__(self) -> None:
        for name in ("region", "namespace", "group"):
            if not getattr(self, name):
                raise SimulatorConfigError(f"a job spec needs a non-empty {name}")
        for first, last in self.job_ids:
            if first < 1 or last < first:
                raise SimulatorConfigError(f"bad job id range {first}-{last}")
        if self.edition not in EDITIONS:
            raise SimulatorConfigError(f"edition must be one of {EDITIONS}, got {self.edition!r}")
        if self.max_concurrency < 1:
            raise SimulatorConfigError(f"max_concurrency must be >= 1, got {self.max_concurrency}")
        if self.history is not None and self.history[1] < self.history[0]:
            raise SimulatorConfigError(f"history ends before it starts: {self.history}")
        if parse_time_of_day(self.history_time) is None:
            raise SimulatorConfigError(f"history_time must be HH:MM:SS, got {self.history_time!r}")
        if self.cron is not None:
            try:
                QuartzCron(self.cron)
            except QuartzError as exc:
                raise SimulatorConfigError(f"cron: {exc}") from None
        if self.time_type not in TIME_TYPES:
            raise SimulatorConfigError(
                f"time_type must be one of {TIME_TYPES}, got {self.time_type}"
            )
        if self.time_type in (3, 4) and (self.every_seconds is None or self.every_seconds < 1):
            raise SimulatorConfigError(
                "time_type 3 (fix_rate) and 4 (second_delay) need every_seconds >= 1"
            )
        if self.production and self.time_type != 1:
            raise SimulatorConfigError("production runs are simulated for cron jobs (time_type 1)")
        if self.run_seconds is not None and not self.run_seconds >= 0:
            raise SimulatorConfigError(f"run_seconds must be >= 0, got {self.run_seconds}")
        if self.group_capacity is not None and self.group_capacity < 1:
            raise SimulatorConfigError(f"group_capacity must be >= 1, got {self.group_capacity}")

    @property
    def time_expression(self) -> str:
        """What GetJobInfo answers: `cron` (or daily at `history_time`), the seconds of a
        fix_rate or second_delay job, or nothing for an api job."""
        if self.time_type in (3, 4):
            return str(self.every_seconds)
        if self.time_type == 100:
            return ""
        if self.cron is not None:
            return self.cron
        hour, minute, second = self.history_time.split(":")
        return f"{int(second)} {int(minute)} {int(hour)} * * ?"


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything a `Simulator` needs; every field has a working default.

    Quotas are ``"N/min"``, ``"N/s"``, a `QuotaSpec` or None (unlimited) per API action;
    actions not in `quota` get `default_quota`. Instance timings are in seconds of the
    injected clock. `instance_list_filter` picks what GetJobInstanceList's
    StartTimestamp/EndTimestamp compare with, `instance_list_order` its sort order (the
    real behaviour of both is undocumented). `over_concurrency` is what happens to a rerun
    instance beyond its job's `max_concurrency` (undocumented too): ``queue`` (wait for a
    free slot) or ``reject`` (status 9 at once). `history_limit`: the newest N instances of
    a job that the APIs still show (None: all).
    """

    server_timezone: str = "Asia/Shanghai"
    credentials: tuple[CredentialSpec, ...] = (CredentialSpec("testid", "testsecret"),)
    jobs: tuple[JobSpec, ...] = ()
    quota: Mapping[str, str | QuotaSpec | None] = field(default_factory=lambda: dict(DEFAULT_QUOTA))
    default_quota: str | QuotaSpec | None = "100/min"
    retry_after_header: bool = False
    faults: tuple[FaultRule, ...] = ()
    instance_list_filter: str = "schedule_time"
    instance_list_order: str = "newest_first"
    instance_list_max_page_size: int | None = None
    instance_wait_seconds: float = 1.0
    instance_run_seconds: float = 2.0
    instance_run_spread: float = 0.0
    failure_rate: float = 0.0
    retry_failure_rate: float | None = None
    over_concurrency: str = "queue"
    history_limit: int | None = DEFAULT_HISTORY_LIMIT
    max_rerun_days: int | None = None
    timestamp_window_seconds: float = 900.0
    business_error_codes: Mapping[str, int] = field(
        default_factory=lambda: dict(DEFAULT_BUSINESS_CODES)
    )
    seed: int = 0

    def __post_init__(self) -> None:
        try:
            load_zone(self.server_timezone)
        except ValueError as exc:
            raise SimulatorConfigError(f"server_timezone: {exc}") from None
        if not self.credentials:
            raise SimulatorConfigError("credentials: at least one is needed")
        ids = [c.access_key_id for c in self.credentials]
        if len(set(ids)) != len(ids):
            raise SimulatorConfigError("credentials: access_key_id values must be unique")
        _check_jobs(self.jobs)
        for action in self.quota:
            self.quota_for(action)
        self.quota_for("")
        _check_choice("instance_list_filter", self.instance_list_filter, LIST_FILTERS)
        _check_choice("instance_list_order", self.instance_list_order, LIST_ORDERS)
        if self.instance_list_max_page_size is not None and self.instance_list_max_page_size < 1:
            raise SimulatorConfigError("instance_list_max_page_size must be >= 1")
        if self.instance_wait_seconds < 0 or self.instance_run_seconds < 0:
            raise SimulatorConfigError("instance timings must be >= 0")
        for name in ("failure_rate", "retry_failure_rate"):
            rate = getattr(self, name)
            if rate is not None and not 0.0 <= rate <= 1.0:
                raise SimulatorConfigError(f"{name} must be in [0, 1], got {rate}")
        if not 0.0 <= self.instance_run_spread < 1.0:
            raise SimulatorConfigError(
                f"instance_run_spread must be in [0, 1), got {self.instance_run_spread}"
            )
        _check_choice("over_concurrency", self.over_concurrency, OVER_CONCURRENCY)
        if self.history_limit is not None and self.history_limit < 1:
            raise SimulatorConfigError("history_limit must be >= 1")
        if self.max_rerun_days is not None and self.max_rerun_days < 1:
            raise SimulatorConfigError("max_rerun_days must be >= 1")
        if self.timestamp_window_seconds <= 0:
            raise SimulatorConfigError("timestamp_window_seconds must be > 0")
        unknown = sorted(set(self.business_error_codes) - set(DEFAULT_BUSINESS_CODES))
        if unknown:
            raise SimulatorConfigError(f"business_error_codes: unknown reason(s) {unknown}")

    def quota_for(self, action: str) -> QuotaSpec | None:
        """The quota of `action` (None: unlimited)."""
        value = self.quota.get(action, self.default_quota)
        if value is None:
            return None
        try:
            return QuotaSpec.parse(value)
        except ValueError as exc:
            raise SimulatorConfigError(f"quota.{action or 'default'}: {exc}") from None

    def business_code(self, reason: str) -> int:
        return self.business_error_codes.get(reason, DEFAULT_BUSINESS_CODES[reason])

    @classmethod
    def default(cls) -> SimulatorConfig:
        """What `rerun-orchestrator simulate` serves without ``--config`` (see the docs)."""
        return cls(
            credentials=(
                CredentialSpec("testid", "testsecret"),
                CredentialSpec("stsid", "stssecret", security_token="ststoken"),  # noqa: S106 demo key
            ),
            jobs=(
                JobSpec(
                    "cn-hangzhou",
                    "adcfc35d-e2fe-4fe9-bbaa-20e90ffc1234",
                    "testSchedulerx.defaultGroup",
                    ((123, 124), (200, 210)),
                ),
                JobSpec("cn-hangzhou", "ns-1", "g1", ((1, 2), (10, 20))),
                JobSpec("cn-hangzhou", "ns-1", "basic.group", ((300, 300),), edition="basic"),
            ),
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SimulatorConfig:
        """Build from parsed YAML/JSON; raises `SimulatorConfigError` naming the bad key."""
        from ._loading import config_from_mapping  # noqa: PLC0415 the loader imports this module

        return config_from_mapping(cls, data)

    @classmethod
    def from_yaml(cls, path: str | Path) -> SimulatorConfig:
        """Load a YAML config file; every problem as ``PATH:LINE:COL: message``."""
        from ._loading import config_from_yaml  # noqa: PLC0415 the loader imports this module

        return config_from_yaml(cls, path)


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SimulatorConfigError(f"{name} must be one of {allowed}, got {value!r}")


def _check_jobs(jobs: Iterable[JobSpec]) -> None:
    """Job ids are unique per region and a group has one edition and one namespace source."""
    ranges: dict[str, list[tuple[int, int, int]]] = {}
    groups: dict[tuple[str, str, str], JobSpec] = {}
    for index, spec in enumerate(jobs):
        key = (spec.region, spec.namespace, spec.group)
        known = groups.setdefault(key, spec)
        shared = ("edition", "namespace_source", "group_capacity")
        if any(getattr(known, name) != getattr(spec, name) for name in shared):
            raise SimulatorConfigError(
                f"jobs[{index}]: group {spec.group!r} is declared twice with a different "
                "edition, namespace_source or group_capacity"
            )
        ranges.setdefault(spec.region, []).extend((a, b, index) for a, b in spec.job_ids)
    for region, spans in ranges.items():
        spans.sort()
        for (_, last, i), (first, _, j) in itertools.pairwise(spans):
            if first <= last:
                raise SimulatorConfigError(
                    f"jobs[{j}]: job id {first} in {region} is also declared by jobs[{i}]"
                )
