"""The simulated service's state: where jobs live, their instances, the accepted calls.

Pure bookkeeping, no I/O and no clock of its own: every method that depends on time
takes ``now_ms`` (epoch ms). Instance progress is derived, not stepped: each instance
gets its start and end times when it is created (a FIFO queue per job, at most
`max_concurrency` running at once), and its status is read off those times, so no
background task is needed and a test clock can jump freely.
"""

from __future__ import annotations

import bisect
import heapq
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from ..schedulerx._wire import InstanceStatus, TriggerType
from ._calendar import format_data_time, format_ms, load_zone, local_ms, parse_time_of_day
from ._config import JobSpec, SimulatorConfig

# Rerun instances get ids far above history ids, so ids grow with creation time even
# though history is materialised lazily.
_HISTORY_ID_BASE = 1_000_000
_RERUN_ID_BASE = 100_000_000_000


@dataclass(slots=True)
class Instance:
    """One job instance. Times are epoch ms; `failed` is decided when it is created."""

    instance_id: int
    job_id: int
    spec: JobSpec
    trigger_type: int
    data_time: str
    data_ms: int
    schedule_ms: int
    start_ms: int
    end_ms: int
    failed: bool
    request_id: str | None = None

    def status(self, now_ms: int) -> InstanceStatus:
        if now_ms < self.start_ms:
            return InstanceStatus.WAITING
        if now_ms < self.end_ms:
            return InstanceStatus.RUNNING
        return InstanceStatus.FAILED if self.failed else InstanceStatus.SUCCESS

    def to_api(self, now_ms: int, zone: ZoneInfo) -> dict[str, object]:
        """The GetJobInstanceList row (PascalCase); times not reached yet are omitted."""
        status = self.status(now_ms)
        row: dict[str, object] = {
            "InstanceId": self.instance_id,
            "JobId": self.job_id,
            "Status": int(status),
            "DataTime": self.data_time,
            "ScheduleTime": format_ms(self.schedule_ms, zone),
            "TimeType": 1,
            "TriggerType": self.trigger_type,
            "Executor": "",
            "Progress": "",
            "Result": "",
        }
        if status != InstanceStatus.WAITING:
            row["StartTime"] = format_ms(self.start_ms, zone)
            row["WorkAddr"] = "127.0.0.1:16888"
        if status in (InstanceStatus.SUCCESS, InstanceStatus.FAILED):
            row["EndTime"] = format_ms(self.end_ms, zone)
            row["Result"] = "simulated failure" if self.failed else "success"
        return row

    def to_inspection(self, now_ms: int, zone: ZoneInfo) -> dict[str, object]:
        """The ``/_simulator/instances`` row: snake_case, with the creating RequestId."""
        status = self.status(now_ms)
        return {
            "instance_id": self.instance_id,
            "job_id": self.job_id,
            "region": self.spec.region,
            "namespace": self.spec.namespace,
            "group_id": self.spec.group,
            "status": int(status),
            "status_name": status.name.lower(),
            "trigger_type": self.trigger_type,
            "data_time": self.data_time,
            "schedule_time": format_ms(self.schedule_ms, zone),
            "start_time": format_ms(self.start_ms, zone),
            "end_time": format_ms(self.end_ms, zone),
            "request_id": self.request_id,
        }


@dataclass(slots=True)
class JobState:
    """The instances of one job and when its concurrency slots free up (a min-heap)."""

    job_id: int
    spec: JobSpec
    instances: list[Instance] = field(default_factory=list)
    slots: list[int] = field(default_factory=list)


class Registry:
    """Finds the spec of a job id by bisecting sorted ranges; never expands a range."""

    def __init__(self, jobs: Sequence[JobSpec]) -> None:
        self._ranges: dict[str, list[tuple[int, int, JobSpec]]] = {}
        self._groups: dict[tuple[str, str, str], JobSpec] = {}
        self._namespaces: set[tuple[str, str, str | None]] = set()
        for spec in jobs:
            spans = self._ranges.setdefault(spec.region, [])
            spans.extend((first, last, spec) for first, last in spec.job_ids)
            self._groups.setdefault((spec.region, spec.namespace, spec.group), spec)
            self._namespaces.add((spec.region, spec.namespace, spec.namespace_source))
        for spans in self._ranges.values():
            spans.sort(key=lambda span: span[0])
        self._starts = {region: [s[0] for s in spans] for region, spans in self._ranges.items()}

    def knows_region(self, region: str) -> bool:
        return region in self._ranges

    def has_namespace(self, region: str, namespace: str, source: str | None) -> bool:
        return (region, namespace, source) in self._namespaces

    def groups_in(self, region: str, namespace: str) -> list[JobSpec]:
        """One spec per group of a namespace, in the order the config declares them."""
        return [spec for (r, ns, _), spec in self._groups.items() if (r, ns) == (region, namespace)]

    def group(self, region: str, namespace: str, group: str) -> JobSpec | None:
        """Any spec of that group (they share edition and namespace source)."""
        return self._groups.get((region, namespace, group))

    def find(self, region: str, job_id: int) -> JobSpec | None:
        starts = self._starts.get(region)
        if not starts:
            return None
        index = bisect.bisect_right(starts, job_id) - 1
        if index < 0:
            return None
        first, last, spec = self._ranges[region][index]
        return spec if first <= job_id <= last else None


class SimState:
    """Jobs (materialised on first use), their instances, and the accepted RerunJob calls."""

    def __init__(self, config: SimulatorConfig, rng: random.Random) -> None:
        self.config = config
        self.zone = load_zone(config.server_timezone)
        self.registry = Registry(config.jobs)
        self._rng = rng
        self._jobs: dict[tuple[str, int], JobState] = {}
        self._next_history_id = _HISTORY_ID_BASE
        self._next_rerun_id = _RERUN_ID_BASE
        self.calls: list[dict[str, object]] = []
        self._wait_ms = round(config.instance_wait_seconds * 1000)
        self._run_ms = round(config.instance_run_seconds * 1000)

    def job(self, region: str, job_id: int) -> JobState | None:
        """The job's state, created with its scheduled history the first time it is asked for."""
        key = (region, job_id)
        state = self._jobs.get(key)
        if state is not None:
            return state
        spec = self.registry.find(region, job_id)
        if spec is None:
            return None
        state = self._jobs[key] = JobState(job_id, spec, slots=[0] * spec.max_concurrency)
        if spec.history is not None:
            self._add_history(state, spec.history, parse_time_of_day(spec.history_time) or time())
        return state

    def _add_history(self, state: JobState, days: tuple[date, date], at: time) -> None:
        # Regular daily runs: scheduled at their data time, long finished (if in the past).
        day = days[0]
        while day <= days[1]:
            when = local_ms(day, at, self.zone)
            state.instances.append(
                Instance(
                    instance_id=self._next_history_id,
                    job_id=state.job_id,
                    spec=state.spec,
                    trigger_type=int(TriggerType.SCHEDULED),
                    data_time=format_data_time(day, at),
                    data_ms=when,
                    schedule_ms=when,
                    start_ms=when,
                    end_ms=when + self._run_ms,
                    failed=self._fails(),
                )
            )
            self._next_history_id += 1
            day += timedelta(days=1)

    def _fails(self) -> bool:
        rate = self.config.failure_rate
        return rate > 0 and self._rng.random() < rate

    def rerun(
        self, state: JobState, days: Sequence[date], at: time, now_ms: int, request_id: str
    ) -> list[Instance]:
        """Commit a rerun: one instance per day, all scheduled now, queued behind the job's."""
        created = []
        for day in days:
            ready = now_ms + self._wait_ms
            start = max(ready, heapq.heappop(state.slots))
            end = start + self._run_ms
            heapq.heappush(state.slots, end)
            instance = Instance(
                instance_id=self._next_rerun_id,
                job_id=state.job_id,
                spec=state.spec,
                trigger_type=int(TriggerType.RERUN),
                data_time=format_data_time(day, at),
                data_ms=local_ms(day, at, self.zone),
                schedule_ms=now_ms,
                start_ms=start,
                end_ms=end,
                failed=self._fails(),
                request_id=request_id,
            )
            self._next_rerun_id += 1
            created.append(instance)
        state.instances.extend(created)
        return created

    def query(
        self,
        state: JobState,
        *,
        now_ms: int,
        status: int | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[Instance]:
        """The job's instances matching the filters, in the configured order (unpaged).

        `start_ms`/`end_ms` bound (inclusively) the schedule time or the data time,
        whichever `instance_list_filter` names.
        """
        by_data = self.config.instance_list_filter == "data_time"
        rows = []
        for instance in state.instances:
            moment = instance.data_ms if by_data else instance.schedule_ms
            if start_ms is not None and moment < start_ms:
                continue
            if end_ms is not None and moment > end_ms:
                continue
            if status is not None and instance.status(now_ms) != status:
                continue
            rows.append(instance)
        rows.sort(key=lambda i: (i.schedule_ms, i.instance_id))
        if self.config.instance_list_order == "newest_first":
            rows.reverse()
        return rows

    def instance(self, state: JobState, instance_id: int) -> Instance | None:
        return next((i for i in state.instances if i.instance_id == instance_id), None)

    def all_instances(self, job_id: int | None = None) -> Iterator[Instance]:
        """Every materialised instance (optionally of one job id), oldest first."""
        for (_, jid), state in sorted(self._jobs.items()):
            if job_id is None or jid == job_id:
                yield from state.instances

    def reset(self) -> None:
        """Forget every instance and call (history comes back on next use)."""
        self._jobs.clear()
        self.calls.clear()
        self._next_history_id = _HISTORY_ID_BASE
        self._next_rerun_id = _RERUN_ID_BASE
