"""The simulated service's state: jobs, their instances, the accepted calls, the skipped runs.

Pure bookkeeping, no I/O and no clock of its own: every method that depends on time takes
``now_ms`` (epoch ms). Each instance gets its start and end when it is created or retried
(the earliest time a slot of its job, and of its group when the group has a capacity, is
free), and its status is read off those times (`_instances`), so a test clock can jump.

Beyond its job's `max_concurrency`, a rerun instance waits its turn (``over_concurrency:
queue``) or is rejected at once (``reject``). The APIs see only the newest
`history_limit` instances of a job; older ones are kept, marked pruned, for inspection.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from ..schedulerx._wire import TriggerType
from ._calendar import format_data_time, format_ms, load_zone, local_ms, parse_time_of_day
from ._config import JobSpec, SimulatorConfig
from ._instances import Draws, Instance
from ._registry import Registry

# Rerun instances get ids far above history ids, so ids grow with creation time even
# though history is materialised lazily.
_HISTORY_ID_BASE = 1_000_000
_RERUN_ID_BASE = 100_000_000_000

GroupKey = tuple[str, str, str]


@dataclass(slots=True)
class JobState:
    """The instances of one job (oldest first) and when its slots free up (a min-heap)."""

    job_id: int
    spec: JobSpec
    instances: list[Instance] = field(default_factory=list)
    slots: list[int] = field(default_factory=list)
    pruned: list[Instance] = field(default_factory=list)

    def active(self, now_ms: int) -> list[Instance]:
        """Instances waiting or running at `now_ms`."""
        return [i for i in self.instances if i.active(now_ms)]


class SimState:
    """Jobs (materialised on first use), their instances, and the accepted RerunJob calls."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.zone = load_zone(config.server_timezone)
        self.registry = Registry(config.jobs)
        self.draws = Draws(config)
        self._jobs: dict[tuple[str, int], JobState] = {}
        self._group_slots: dict[GroupKey, list[int]] = {}
        self._next_history_id = _HISTORY_ID_BASE
        self._next_rerun_id = _RERUN_ID_BASE
        self.calls: list[dict[str, object]] = []
        self.retries: list[dict[str, object]] = []
        self.skipped: list[dict[str, object]] = []
        self._wait_ms = round(config.instance_wait_seconds * 1000)

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

    def jobs(self) -> Iterator[JobState]:
        """Every materialised job."""
        return iter(list(self._jobs.values()))

    def _add_history(self, state: JobState, days: tuple[date, date], at: time) -> None:
        # Regular daily runs: scheduled at their data time, long finished (if in the past).
        day = days[0]
        while day <= days[1]:
            when = local_ms(day, at, self.zone)
            duration = self.draws.duration_ms(state.spec, state.job_id, when, 1)
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
                    end_ms=when + duration,
                    failed=self.draws.fails(state.job_id, when, 1, scheduled=True),
                )
            )
            self._next_history_id += 1
            day += timedelta(days=1)
        self._prune(state)

    # -- placing instances on slots -------------------------------------------------

    def _place(self, job: JobState, ready_ms: int, duration_ms: int) -> tuple[int, int]:
        """Take the earliest slot of the job (and of its group) from `ready_ms` on."""
        group = self._group_heap(job.spec)
        start = max(ready_ms, heapq.heappop(job.slots))
        if group is not None:
            start = max(start, heapq.heappop(group))
        end = start + duration_ms
        heapq.heappush(job.slots, end)
        if group is not None:
            heapq.heappush(group, end)
        return start, end

    def _group_heap(self, spec: JobSpec) -> list[int] | None:
        if spec.group_capacity is None:
            return None
        key = (spec.region, spec.namespace, spec.group)
        return self._group_slots.setdefault(key, [0] * spec.group_capacity)

    def _full(self, job: JobState, now_ms: int) -> bool:
        return len(job.active(now_ms)) >= job.spec.max_concurrency

    def _start(self, instance: Instance, job: JobState, now_ms: int) -> None:
        """(Re)start `instance` now: rejected, or placed after the usual wait."""
        duration = self.draws.duration_ms(job.spec, job.job_id, instance.data_ms, instance.attempt)
        instance.failed = self.draws.fails(job.job_id, instance.data_ms, instance.attempt)
        if self.config.over_concurrency == "reject" and self._full(job, now_ms):
            instance.rejected = True
            instance.start_ms = instance.end_ms = now_ms
            return
        instance.rejected = False
        instance.start_ms, instance.end_ms = self._place(job, now_ms + self._wait_ms, duration)

    # -- what the APIs do -----------------------------------------------------------

    def rerun(
        self, state: JobState, days: Sequence[date], at: time, now_ms: int, request_id: str
    ) -> list[Instance]:
        """Commit a rerun: one instance per day, all scheduled now."""
        created = []
        for day in days:
            instance = Instance(
                instance_id=self._next_rerun_id,
                job_id=state.job_id,
                spec=state.spec,
                trigger_type=int(TriggerType.RERUN),
                data_time=format_data_time(day, at),
                data_ms=local_ms(day, at, self.zone),
                schedule_ms=now_ms,
                start_ms=now_ms,
                end_ms=now_ms,
                failed=False,
                request_id=request_id,
            )
            self._next_rerun_id += 1
            self._start(instance, state, now_ms)
            state.instances.append(instance)
            created.append(instance)
        self._prune(state)
        return created

    def retry(self, state: JobState, instance: Instance, now_ms: int, request_id: str) -> None:
        """RetryJobInstance: the same instance runs again (a new attempt, no new instance)."""
        if not instance.rejected:
            instance.past.append((instance.active_from_ms, instance.start_ms, instance.end_ms))
        instance.attempt += 1
        instance.active_from_ms = now_ms
        self._start(instance, state, now_ms)
        self.retries.append(
            {
                "request_id": request_id,
                "job_id": state.job_id,
                "instance_id": instance.instance_id,
                "attempt": instance.attempt,
                "rejected": instance.rejected,
            }
        )

    def fire(self, state: JobState, fire_ms: int) -> Instance | None:
        """A scheduled production run at `fire_ms`; None (and recorded) if the job is busy."""
        busy = state.active(fire_ms)
        if len(busy) >= state.spec.max_concurrency:
            self.skipped.append(
                {
                    "job_id": state.job_id,
                    "region": state.spec.region,
                    "namespace": state.spec.namespace,
                    "group_id": state.spec.group,
                    "fire_ms": fire_ms,
                    "fire_time": format_ms(fire_ms, self.zone),
                    "busy_instance_ids": [i.instance_id for i in busy],
                    "busy_trigger_types": sorted({i.trigger_type for i in busy}),
                }
            )
            return None
        duration = self.draws.duration_ms(state.spec, state.job_id, fire_ms, 1)
        start, end = self._place(state, fire_ms, duration)
        instance = Instance(
            instance_id=self._next_rerun_id,
            job_id=state.job_id,
            spec=state.spec,
            trigger_type=int(TriggerType.SCHEDULED),
            data_time=format_data_time(*self._local(fire_ms)),
            data_ms=fire_ms,
            schedule_ms=fire_ms,
            start_ms=start,
            end_ms=end,
            failed=self.draws.fails(state.job_id, fire_ms, 1, scheduled=True),
        )
        self._next_rerun_id += 1
        state.instances.append(instance)
        self._prune(state)
        return instance

    def _local(self, epoch_ms: int) -> tuple[date, time]:
        moment = datetime.fromtimestamp(epoch_ms / 1000, tz=self.zone)
        return moment.date(), moment.time().replace(microsecond=0)

    def _prune(self, state: JobState) -> None:
        limit = self.config.history_limit
        if limit is None or len(state.instances) <= limit:
            return
        state.instances.sort(key=lambda i: (i.schedule_ms, i.instance_id))
        cut = len(state.instances) - limit
        for instance in state.instances[:cut]:
            instance.pruned = True
        state.pruned.extend(state.instances[:cut])
        del state.instances[:cut]

    def query(
        self,
        state: JobState,
        *,
        now_ms: int,
        status: int | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[Instance]:
        """The job's visible instances matching the filters, in the configured order (unpaged).

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
        """A visible (not pruned) instance of the job."""
        return next((i for i in state.instances if i.instance_id == instance_id), None)

    def all_instances(self, job_id: int | None = None) -> Iterator[Instance]:
        """Every instance ever created (of one job id), pruned ones included, oldest first."""
        for (_, jid), state in sorted(self._jobs.items()):
            if job_id is None or jid == job_id:
                everything = [*state.pruned, *state.instances]
                yield from sorted(everything, key=lambda i: (i.schedule_ms, i.instance_id))

    def reset(self) -> None:
        """Forget every instance, call, retry and skipped run (history comes back on next use)."""
        self._jobs.clear()
        self._group_slots.clear()
        self.calls.clear()
        self.retries.clear()
        self.skipped.clear()
        self._next_history_id = _HISTORY_ID_BASE
        self._next_rerun_id = _RERUN_ID_BASE
