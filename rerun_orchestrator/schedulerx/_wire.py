"""Wire types shared by the client and the simulator: request parameters and parsed answers.

Plain values, no I/O. Field names follow the OpenAPI's PascalCase only at the edge
(`form()`, `from_json()`); inside the program they are snake_case.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

API_VERSION = "2019-04-30"
PRODUCT = "schedulerx2"


@dataclass(frozen=True, slots=True)
class RerunJobParams:
    """The RerunJob request: a job over an inclusive range of days (epoch ms of their midnights)."""

    region: str
    namespace: str
    group_id: str
    job_id: int
    start_date: int
    end_date: int
    data_time: str
    namespace_source: str | None = None

    def form(self) -> dict[str, str]:
        """The OpenAPI parameters, as the official SDK puts them in the form body."""
        params = {
            "RegionId": self.region,
            "Namespace": self.namespace,
            "GroupId": self.group_id,
            "JobId": str(self.job_id),
            "StartDate": str(self.start_date),
            "EndDate": str(self.end_date),
            "DataTime": self.data_time,
        }
        if self.namespace_source is not None:
            params["NamespaceSource"] = self.namespace_source
        return params


@dataclass(frozen=True, slots=True)
class InstanceListQuery:
    """GetJobInstanceList parameters (GET, query string). Timestamps are epoch ms."""

    region: str
    namespace: str
    group_id: str
    job_id: int
    namespace_source: str | None = None
    status: int | None = None
    start_timestamp: int | None = None
    end_timestamp: int | None = None
    page_num: int = 1
    page_size: int = 100

    def query(self) -> dict[str, str]:
        params = {
            "RegionId": self.region,
            "Namespace": self.namespace,
            "GroupId": self.group_id,
            "JobId": str(self.job_id),
            "PageNum": str(self.page_num),
            "PageSize": str(self.page_size),
        }
        optional = {
            "NamespaceSource": self.namespace_source,
            "Status": self.status,
            "StartTimestamp": self.start_timestamp,
            "EndTimestamp": self.end_timestamp,
        }
        params.update({k: str(v) for k, v in optional.items() if v is not None})
        return params


class InstanceStatus(enum.IntEnum):
    """Job instance states (worker-side enum; the doc lists 1, 3, 4, 5, 9)."""

    UNKNOWN = 0
    WAITING = 1
    READY = 2
    RUNNING = 3
    SUCCESS = 4
    FAILED = 5
    KILLED = 6
    PAUSED = 7
    SUBMITTED = 8
    REJECTED = 9
    ACCEPTED = 10
    PARTIAL_FAILED = 11
    REMOVED = 99


class TriggerType(enum.IntEnum):
    SCHEDULED = 1
    RERUN = 2  # "data rebrush": what RerunJob creates (assumed, see docs/schedulerx-api.md §1.1)
    API = 3
    MANUAL = 4
    SYSTEM_RETRY = 5


_REQUIRED_ROW_FIELDS = ("InstanceId", "JobId", "TriggerType", "DataTime", "ScheduleTime")


@dataclass(frozen=True, slots=True)
class JobInstance:
    """One row of GetJobInstanceList. Times are the server's ``yyyy-MM-dd HH:mm:ss`` strings."""

    instance_id: int
    job_id: int
    status: int
    trigger_type: int
    data_time: str
    schedule_time: str
    start_time: str | None = None
    end_time: str | None = None

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> JobInstance:
        """Parse one row strictly: a row without its id, job, trigger type, data time or
        schedule time is evidence nobody can judge. Raises KeyError/TypeError/ValueError."""
        for name in _REQUIRED_ROW_FIELDS:
            if item.get(name) in (None, ""):
                raise KeyError(name)
        return cls(
            instance_id=int(item["InstanceId"]),
            job_id=int(item["JobId"]),
            status=int(item.get("Status", 0)),
            trigger_type=int(item["TriggerType"]),
            data_time=str(item["DataTime"]),
            schedule_time=str(item["ScheduleTime"]),
            start_time=item.get("StartTime"),
            end_time=item.get("EndTime"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "InstanceId": self.instance_id,
            "JobId": self.job_id,
            "Status": self.status,
            "TriggerType": self.trigger_type,
            "DataTime": self.data_time,
            "ScheduleTime": self.schedule_time,
            "StartTime": self.start_time,
            "EndTime": self.end_time,
        }


@dataclass(frozen=True, slots=True)
class InstanceListPage:
    """One page of GetJobInstanceList. `total` is None when the server does not say."""

    instances: tuple[JobInstance, ...]
    total: int | None
    page_num: int
    page_size: int

    @classmethod
    def from_data(
        cls, data: Mapping[str, Any], *, page_num: int, page_size: int
    ) -> InstanceListPage:
        """Parse the response's ``Data`` strictly. Raises KeyError/TypeError/ValueError if
        malformed: a page without ``JobInstanceDetails`` (missing, null, spelled otherwise)
        says nothing about the instances, and must never read as "there are none"."""
        items = data["JobInstanceDetails"]
        if not isinstance(items, list):
            raise TypeError(f"JobInstanceDetails is {type(items).__name__}, not a list")
        total = data.get("Total")
        return cls(
            instances=tuple(JobInstance.from_json(item) for item in items),
            total=None if total is None else int(total),
            page_num=int(data.get("PageNumber", page_num)),
            page_size=int(data.get("PageSize", page_size)),
        )


@dataclass(frozen=True, slots=True)
class JobInfo:
    """The parts of GetJobInfo's ``Data.JobConfigInfo`` a backfill checks before it starts."""

    job_id: int
    name: str
    status: int  # 1 enabled, 0 disabled
    job_type: str | None = None
    execute_mode: str | None = None
    max_concurrency: int | None = None
    time_type: int | None = None
    time_expression: str | None = None
    description: str | None = None
    calendar: str | None = None
    data_offset: int | None = None

    @property
    def enabled(self) -> bool:
        return self.status == 1

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> JobInfo:
        """Parse the response's ``Data``. Raises KeyError/TypeError/ValueError if malformed."""
        info = data["JobConfigInfo"]
        time_config = info.get("TimeConfig") or {}
        max_concurrency = info.get("MaxConcurrency")  # a string in the SDK model
        time_type = time_config.get("TimeType")
        return cls(
            job_id=int(info["JobId"]),
            name=str(info.get("Name", "")),
            status=int(info.get("Status", 0)),
            job_type=info.get("JobType"),
            execute_mode=info.get("ExecuteMode"),
            max_concurrency=None if max_concurrency in (None, "") else int(max_concurrency),
            time_type=None if time_type is None else int(time_type),
            time_expression=time_config.get("TimeExpression"),
            description=info.get("Description"),
            calendar=time_config.get("Calendar") or None,
            data_offset=None
            if time_config.get("DataOffset") is None
            else int(time_config["DataOffset"]),
        )


@dataclass(frozen=True, slots=True)
class AppGroup:
    """One row of ListGroups' ``Data.AppGroups``: a group and its edition.

    ``AppVersion`` is 1 for Basic Edition and 2 for Professional Edition (SDK model text);
    RerunJob needs professional. The row's ``AppKey`` (the workers' key) is never kept.
    """

    group_id: str
    app_name: str
    app_version: int | None

    @property
    def professional(self) -> bool:
        return self.app_version == 2

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> AppGroup:
        version = item.get("AppVersion")
        return cls(
            group_id=str(item["GroupId"]),
            app_name=str(item.get("AppName", "")),
            app_version=None if version is None else int(version),
        )


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """What the server said, parsed leniently. Any field may be missing from a broken body.

    `code` is a string for gateway errors (``Throttling.User``) and an int for SchedulerX
    results (``200``, or a business failure code), exactly as the server sent it.
    """

    http_status: int
    request_id: str | None
    code: str | int | None
    success: bool | None
    message: str | None
    retry_after_ms: int | None = None
    data: Mapping[str, Any] | None = None
    raw_body: bytes = field(default=b"", repr=False)
    # Why the body could not be read as a result ("empty body", "HTML page", ...); None if it could.
    body_error: str | None = None


class Verdict(enum.Enum):
    """What one attempt means for the chunk: the classification table's actions."""

    SUCCEEDED = "succeeded"
    RETRY = "retry"  # certainly not applied (throttled, 503, never sent): back off and resend
    RESIGN = "resign"  # clock skew or nonce reuse: re-sign and resend once
    AMBIGUOUS = "ambiguous"  # may have been applied: reconcile, never resend blindly
    PERMANENT = "permanent"  # refused for good: fail the chunk with the server's code


class Scope(enum.Enum):
    """Whom an answer concerns: which other chunks would get the same one."""

    CHUNK = "chunk"  # this chunk only (an unknown job, a bad date)
    LOCATION = "location"  # every chunk of its region/namespace/group (an unknown group)
    RUN = "run"  # every chunk of the run: who is asking was refused (a wrong key or token)


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """One HTTP attempt, classified. Failures are results, not exceptions.

    `response` is None when no HTTP answer was read (connect error, timeout, reset);
    `reason` then says why in words a user can act on.
    """

    verdict: Verdict
    reason: str
    response: ApiResponse | None = None
    elapsed_ms: float = 0.0
    wrote_request: bool = True  # False only when the request certainly never left
    # The classification row's other facts (see `schedulerx._classify`).
    throttle: bool = False  # a quota answer: the rate limiter must slow down
    scope: Scope = Scope.CHUNK  # which other chunks would get the same answer

    @property
    def request_id(self) -> str | None:
        return self.response.request_id if self.response else None

    @property
    def http_status(self) -> int | None:
        return self.response.http_status if self.response else None

    @property
    def code(self) -> str | int | None:
        return self.response.code if self.response else None

    @property
    def message(self) -> str | None:
        return self.response.message if self.response else None

    @property
    def retry_after_ms(self) -> int | None:
        return self.response.retry_after_ms if self.response else None

    @property
    def throttled(self) -> bool:
        """A quota answer, gateway (``Throttling.User``) or business (``REQUEST_TOO_FAST``)."""
        return self.throttle
