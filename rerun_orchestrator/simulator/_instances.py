"""One job instance and the seeded draws that decide how it goes.

An instance's progress is derived, not stepped: it gets its start and end times when it is
created (or retried), and its status is read off those times, so a test clock can jump.

Durations and failures are drawn per (job, data day, attempt) from the config's seed, not
from a shared sequence: the same day's first attempt fails or not, and takes as long,
whatever else the simulator was asked before. That is what makes a retry test exact.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from ..schedulerx._wire import InstanceStatus
from ._calendar import format_ms
from ._config import JobSpec, SimulatorConfig


@dataclass(slots=True)
class Instance:
    """One job instance. Times are epoch ms; `failed` is decided when it is (re)started.

    `attempt` is 1 when created and grows with each RetryJobInstance (the same instance
    id runs again). A `rejected` instance never ran (status 9).
    """

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
    attempt: int = 1
    rejected: bool = False
    pruned: bool = False
    active_from_ms: int = -1  # when this attempt was triggered (-1: the schedule time)
    # Earlier attempts as (active from, start, end), for peak measurements.
    past: list[tuple[int, int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.active_from_ms < 0:
            self.active_from_ms = self.schedule_ms

    def intervals(self) -> list[tuple[int, int, int]]:
        """Every attempt that ran or waited: (active from, start, end), oldest first."""
        current = [] if self.rejected else [(self.active_from_ms, self.start_ms, self.end_ms)]
        return [*self.past, *current]

    def status(self, now_ms: int) -> InstanceStatus:
        if self.rejected:
            return InstanceStatus.REJECTED
        if now_ms < self.start_ms:
            return InstanceStatus.WAITING
        if now_ms < self.end_ms:
            return InstanceStatus.RUNNING
        return InstanceStatus.FAILED if self.failed else InstanceStatus.SUCCESS

    def active(self, now_ms: int) -> bool:
        """Waiting or running at `now_ms` (triggered by then and not ended)."""
        return not self.rejected and self.active_from_ms <= now_ms < self.end_ms

    def ended(self, now_ms: int) -> bool:
        return self.rejected or now_ms >= self.end_ms

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
        if status == InstanceStatus.REJECTED:
            row["Result"] = "rejected: the job's concurrency is used up"
            return row
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
            "attempt": self.attempt,
            "pruned": self.pruned,
            "schedule_ms": self.schedule_ms,
            "start_ms": None if self.rejected else self.start_ms,
            "end_ms": None if self.rejected else self.end_ms,
        }


class Draws:
    """Seeded per-(job, day, attempt) durations and failures.

    A duration is the job's `run_seconds` (else the config's `instance_run_seconds`) times
    a factor uniform in ``[1 - spread, 1 + spread]``. The first attempt fails at
    `failure_rate`, later ones at `retry_failure_rate` (default: the same rate).
    """

    def __init__(self, config: SimulatorConfig) -> None:
        self._seed = config.seed
        self._run_s = config.instance_run_seconds
        self._spread = config.instance_run_spread
        self._rate = config.failure_rate
        retry = config.retry_failure_rate
        self._retry_rate = self._rate if retry is None else retry

    def _draw(self, what: str, job_id: int, day_ms: int, attempt: int) -> float:
        return random.Random(f"{self._seed}:{what}:{job_id}:{day_ms}:{attempt}").random()

    def duration_ms(self, spec: JobSpec, job_id: int, day_ms: int, attempt: int) -> int:
        base = spec.run_seconds if spec.run_seconds is not None else self._run_s
        if self._spread == 0:
            return round(base * 1000)
        factor = 1 + self._spread * (2 * self._draw("duration", job_id, day_ms, attempt) - 1)
        return round(base * factor * 1000)

    def fails(self, job_id: int, day_ms: int, attempt: int, *, scheduled: bool = False) -> bool:
        rate = self._rate if attempt == 1 else self._retry_rate
        what = "scheduled" if scheduled else "failure"
        return rate > 0 and self._draw(what, job_id, day_ms, attempt) < rate
