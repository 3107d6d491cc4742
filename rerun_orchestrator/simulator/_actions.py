"""The SchedulerX operations themselves: RerunJob and the read APIs used to verify it.

Each action takes the request's parameters and answers with a `GatewayError` (HTTP 4xx,
the gateway refused the parameters) or an `Answer` (HTTP 200 body, which may still be a
business failure with ``Success=false`` and a non-200 integer ``Code``, as the real
service answers an unknown job or a basic-edition group).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import _errors
from ._calendar import day_of, days_between, parse_time_of_day
from ._config import JobSpec
from ._errors import GatewayError
from ._instances import Instance
from ._state import JobState, SimState

_LOCATION = ("RegionId", "Namespace", "GroupId")


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who called and when: the RequestId the answer will carry and the server's time."""

    request_id: str
    access_key_id: str
    now_ms: int


@dataclass(frozen=True, slots=True)
class Answer:
    """A 200 answer's body (without RequestId); `committed` when a rerun was recorded."""

    body: dict[str, Any]
    committed: bool = False

    @property
    def success(self) -> bool:
        return bool(self.body.get("Success"))


Result = Answer | GatewayError
Action = Callable[[SimState, Mapping[str, str], CallContext], Result]


def _fail(state: SimState, reason: str, message: str) -> Answer:
    code = state.config.business_code(reason)
    return Answer({"Code": code, "Success": False, "Message": message})


def _ok(data: dict[str, Any] | None = None) -> Answer:
    body: dict[str, Any] = {"Code": 200, "Success": True}
    if data is None:
        body["Message"] = ""
    else:
        body["Data"] = data
    return Answer(body)


def _required(params: Mapping[str, str], names: tuple[str, ...]) -> GatewayError | None:
    for name in names:
        if not params.get(name):
            return _errors.missing(name)
    return None


def _long(params: Mapping[str, str], name: str) -> int | GatewayError | None:
    """An optional ``long`` parameter: None when absent, an error when not an integer."""
    text = params.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        return _errors.invalid_parameter(name, text)


def _locate(state: SimState, params: Mapping[str, str], job_id: int | None) -> Answer | JobState:
    """The job's state, or the business failure for a wrong namespace, group or job."""
    region, namespace, group = (params[name] for name in _LOCATION)
    source = params.get("NamespaceSource") or None
    registry = state.registry
    spec: JobSpec | None = registry.group(region, namespace, group)
    if not registry.has_namespace(region, namespace, source) or (
        spec is not None and spec.namespace_source != source
    ):
        # the service is Java (docs/schedulerx-api.md §4.3)
        shown = "null" if source is None else source
        return _fail(
            state,
            "namespace_not_found",
            f"namespace can not find namespace: {namespace}, namespaceSource:{shown}",
        )
    if spec is None:
        return _fail(
            state, "group_not_found", f"groupid not exist groupId: {group} namespace: {namespace}"
        )
    if job_id is None:
        return _fail(state, "missing_job", "jobId can not be null")
    job = state.job(region, job_id)
    if job is None:
        return _fail(state, "job_not_found", f"jobId={job_id} is not existed")
    if (job.spec.namespace, job.spec.group) != (namespace, group):
        return _fail(state, "job_group_mismatch", f"jobid: {job_id} not match groupId: {group}")
    return job


def _common(
    state: SimState, params: Mapping[str, str], extra: tuple[str, ...] = ()
) -> GatewayError | None:
    missing = _required(params, _LOCATION + extra)
    if missing is not None:
        return missing
    if not state.registry.knows_region(params["RegionId"]):
        return _errors.unknown_region(params["RegionId"])
    return None


def rerun_job(state: SimState, params: Mapping[str, str], ctx: CallContext) -> Result:
    """Rerun a job over StartDate's day .. EndDate's day, one instance per day."""
    names = ("JobId", "StartDate", "EndDate", "DataTime")
    error = _common(state, params, names)
    if error is not None:
        return error
    values = [_long(params, name) for name in ("JobId", "StartDate", "EndDate")]
    for value in values:
        if isinstance(value, GatewayError):
            return value
    job_id, start_ms, end_ms = (v if isinstance(v, int) else 0 for v in values)
    located = _locate(state, params, job_id)
    if isinstance(located, Answer):
        return located
    group = params["GroupId"]
    if located.spec.edition != "professional":
        return _fail(
            state,
            "edition_not_supported",
            f"rerun job is only supported by the professional edition, groupId: {group}",
        )
    if end_ms < start_ms:
        return _fail(state, "invalid_range", "endDate must not be earlier than startDate")
    at = parse_time_of_day(params["DataTime"])
    if at is None:
        return _fail(state, "invalid_data_time", "dataTime format should be HH:mm:ss")
    try:
        first, last = day_of(start_ms, state.zone), day_of(end_ms, state.zone)
    except (ValueError, OverflowError, OSError):
        return _fail(state, "invalid_range", "startDate or endDate is out of range")
    limit = state.config.max_rerun_days
    if limit is not None and (last - first).days + 1 > limit:
        return _fail(state, "too_many_days", f"the date range must not exceed {limit} days")
    days = days_between(start_ms, end_ms, state.zone)
    state.rerun(located, days, at, ctx.now_ms, ctx.request_id)
    state.calls.append(
        {
            "request_id": ctx.request_id,
            "access_key_id": ctx.access_key_id,
            "region": params["RegionId"],
            "namespace": params["Namespace"],
            "group_id": group,
            "job_id": job_id,
            "start_date": start_ms,
            "end_date": end_ms,
            "data_time": params["DataTime"],
        }
    )
    return Answer(_ok().body, committed=True)


def get_job_instance_list(state: SimState, params: Mapping[str, str], ctx: CallContext) -> Result:
    """A job's instances, filtered by Status and a time window, one page at a time."""
    error = _common(state, params)
    if error is not None:
        return error
    values = {}
    for name in ("JobId", "Status", "StartTimestamp", "EndTimestamp", "PageNum", "PageSize"):
        value = _long(params, name)
        if isinstance(value, GatewayError):
            return value
        values[name] = value
    page_num = values["PageNum"] or 1
    page_size = values["PageSize"] or 10
    if page_num < 1:
        return _errors.invalid_parameter("PageNum", str(page_num))
    if page_size < 1:
        return _errors.invalid_parameter("PageSize", str(page_size))
    limit = state.config.instance_list_max_page_size
    if limit is not None:
        page_size = min(page_size, limit)
    located = _locate(state, params, values["JobId"])
    if isinstance(located, Answer):
        return located
    rows = state.query(
        located,
        now_ms=ctx.now_ms,
        status=values["Status"],
        start_ms=values["StartTimestamp"],
        end_ms=values["EndTimestamp"],
    )
    page = rows[(page_num - 1) * page_size : page_num * page_size]
    details = [instance.to_api(ctx.now_ms, state.zone) for instance in page]
    return _ok({"JobInstanceDetails": details})


def _instance_of(state: SimState, params: Mapping[str, str]) -> tuple[JobState, Instance] | Result:
    """The instance a JobId + JobInstanceId call names, or the answer that refuses it."""
    error = _common(state, params, ("JobId", "JobInstanceId"))
    if error is not None:
        return error
    job_id, instance_id = _long(params, "JobId"), _long(params, "JobInstanceId")
    if isinstance(job_id, GatewayError):
        return job_id
    if isinstance(instance_id, GatewayError):
        return instance_id
    located = _locate(state, params, job_id)
    if isinstance(located, Answer):
        return located
    instance = state.instance(located, instance_id or 0)
    if instance is None:
        return _fail(
            state, "instance_not_found", f"instance not found, jobInstanceId={instance_id}"
        )
    return located, instance


def get_job_instance(state: SimState, params: Mapping[str, str], ctx: CallContext) -> Result:
    """One instance of a job, with the extra fields GetJobInstance adds."""
    found = _instance_of(state, params)
    if not isinstance(found, tuple):
        return found
    located, instance = found
    detail = instance.to_api(ctx.now_ms, state.zone)
    detail |= {"JobName": f"job-{located.job_id}", "Parameters": "", "TraceId": ""}
    return _ok({"JobInstanceDetail": detail})


def retry_job_instance(state: SimState, params: Mapping[str, str], ctx: CallContext) -> Result:
    """Run one ended instance again: the same instance id, a new attempt, no new instance."""
    found = _instance_of(state, params)
    if not isinstance(found, tuple):
        return found
    located, instance = found
    instance_id = instance.instance_id
    if not instance.ended(ctx.now_ms):
        return _fail(
            state,
            "instance_not_finished",
            f"jobInstanceId={instance_id} is not finished, "
            f"status={int(instance.status(ctx.now_ms))}",
        )
    state.retry(located, instance, ctx.now_ms, ctx.request_id)
    return Answer(_ok().body, committed=True)


def get_job_info(state: SimState, params: Mapping[str, str], ctx: CallContext) -> Result:
    """A job's configuration: a pre-flight check that JobId and GroupId belong together."""
    error = _common(state, params)
    if error is not None:
        return error
    job_id = _long(params, "JobId")
    if isinstance(job_id, GatewayError):
        return job_id
    located = _locate(state, params, job_id)
    if isinstance(located, Answer):
        return located
    return _ok({"JobConfigInfo": _job_config(located)})


def _job_config(job: JobState) -> dict[str, Any]:
    spec = job.spec
    return {
        "JobId": job.job_id,
        "Name": f"job-{job.job_id}",
        "Status": 1 if spec.enabled else 0,
        "JobType": "java",
        "ExecuteMode": "standalone",
        "Parameters": "",
        "MaxConcurrency": str(spec.max_concurrency),
        "MaxAttempt": 0,
        "AttemptInterval": 30,
        "ClassName": f"com.example.jobs.Job{job.job_id}",
        "Content": "",
        "JarUrl": "",
        "Description": f"simulated job in {spec.group}",
        "XAttrs": "",
        "TimeConfig": {
            "TimeType": spec.time_type,
            "TimeExpression": spec.time_expression,
            "Calendar": "",
            "DataOffset": 0,
        },
        "MapTaskXAttrs": {
            "PageSize": 100,
            "ConsumerSize": 5,
            "QueueSize": 10000,
            "DispatcherSize": 5,
            "TaskMaxAttempt": 0,
            "TaskAttemptInterval": 0,
        },
        "JobMonitorInfo": {
            "MonitorConfig": {
                "Timeout": 7200,
                "SendChannel": "",
                "TimeoutKillEnable": False,
                "TimeoutEnable": False,
                "FailEnable": False,
                "MissWorkerEnable": False,
            },
            "ContactInfo": [],
        },
    }


def list_groups(state: SimState, params: Mapping[str, str], ctx: CallContext) -> Result:
    """The application groups of a namespace, with their edition (``AppVersion``).

    ``AppVersion`` is 1 for Basic Edition and 2 for Professional Edition (SDK model text);
    it is how a client learns, before any RerunJob, whether a group can rerun at all.
    """
    missing = _required(params, ("RegionId", "Namespace"))
    if missing is not None:
        return missing
    region, namespace = params["RegionId"], params["Namespace"]
    if not state.registry.knows_region(region):
        return _errors.unknown_region(region)
    source = params.get("NamespaceSource") or None
    specs = state.registry.groups_in(region, namespace)
    if not state.registry.has_namespace(region, namespace, source):
        shown = "null" if source is None else source
        return _fail(
            state,
            "namespace_not_found",
            f"namespace can not find namespace: {namespace}, namespaceSource:{shown}",
        )
    name = params.get("AppGroupName") or None
    groups = [
        {
            "AppGroupId": 10_000 + index,
            "AppName": spec.group,
            "AppKey": "simulated-app-key",
            "AppVersion": 2 if spec.edition == "professional" else 1,
            "Description": f"simulated {spec.edition} group",
            "EnableLog": False,
            "GroupId": spec.group,
            "Namespace": namespace,
        }
        for index, spec in enumerate(specs)
        if name is None or spec.group == name
    ]
    return _ok({"AppGroups": groups})


ACTIONS: Mapping[str, Action] = {
    "RerunJob": rerun_job,
    "GetJobInstanceList": get_job_instance_list,
    "GetJobInstance": get_job_instance,
    "GetJobInfo": get_job_info,
    "ListGroups": list_groups,
    "RetryJobInstance": retry_job_instance,
}
