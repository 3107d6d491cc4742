"""Good neighbour, wired for one run: the plan's caps and pre-flight's facts into gates.

`build_neighbour` turns ``execution.max_active_per_job`` / ``max_active_per_group`` (or a
target's own ``execution:``) and what GetJobInfo said about each job (the journal's
``job_facts``) into the capacity gate (`InstanceGate`) and the production-first gate
(`ProductionGate`), and `attach` hands the watcher what it must do as instances end: give
each ended day's slot back, learn the job's duration, offer rejected days for a retry in
place (`RejectedRetrier`).

Choices, documented in the README ("Good neighbour"):
- ``auto`` is the job's ``MaxConcurrency``; a job the pre-flight did not describe
  (``--no-preflight``) has no per-job cap, and the run says so.
- Caps need the watcher (it is what sees instances end): a numeric cap with ``--no-watch``
  is refused before anything is sent; ``auto`` with ``--no-watch`` caps nothing (noted).
- Production first guards the jobs whose scheduled runs a busy job would skip:
  ``MaxConcurrency`` 1 and a cron schedule (TimeType 1), fired in the plan's timezone.
- Instances of a job still active when it is taken up (an earlier run's, a replica's: the
  journal records them) hold its capacity too (`adopt`): the per-job cap is the journal's,
  not only this process's. On a shared journal (PostgreSQL) the group cap is counted in
  the database too (`SharedGroupGate`): every replica's instances of the group count.
"""

from __future__ import annotations

import contextlib
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from .._clock import Clock
from .._quartz import QuartzCron, QuartzError
from ..journal._instances import DayInstance, InstanceState
from ..journal._model import JobFactsEntry, JobIdentity
from ..journal._store import Journal
from ..journal._view import JobView
from ..plan._plan import Plan
from ._admission import Gate
from ._capacity import GroupKey, InstanceGate
from ._judge import server_time_to_epoch
from ._offloop import journal_read
from ._production import Durations, ProductionGate
from ._rejected import RejectedRetrier
from ._shared_groups import GroupSlotSource, SharedGroupGate
from ._streams import JobKey
from ._watch import HORIZON_SECONDS, InstanceWatcher, open_days_of

UNCAPPED = sys.maxsize


class NeighbourError(ValueError):
    """The caps cannot be kept as asked (nothing is sent)."""


@dataclass(frozen=True, slots=True)
class Caps:
    """A job's settings: its `max_active_per_job` and its group's `max_active_per_group`."""

    per_job: int | str  # an int or "auto"
    per_group: int | None


def plan_caps(plan: Plan) -> dict[JobKey, Caps]:
    """Each job's caps: its target's ``execution:`` if it has one, else the plan's."""
    out: dict[JobKey, Caps] = {}
    for target in plan.targets:
        own = target.execution
        per_job = plan.execution.max_active_per_job
        per_group = plan.execution.max_active_per_group
        if own is not None and own.max_active_per_job is not None:
            per_job = own.max_active_per_job
        if own is not None and own.max_active_per_group is not None:
            per_group = own.max_active_per_group
        for job_id in target.job_ids():
            key = JobKey(target.region, target.namespace, target.group_id, job_id)
            out.setdefault(key, Caps(per_job, per_group))
    return out


@dataclass(slots=True)
class Neighbour:
    """A run's good-neighbour gates and the watcher's side of them."""

    capacity: InstanceGate | None
    gates: tuple[Gate, ...]
    durations: Durations
    zone: ZoneInfo
    clock: Clock
    notes: list[str] = field(default_factory=list)
    retrier: RejectedRetrier | None = None
    shared: SharedGroupGate | None = None  # the group caps across replicas, if shared

    def attach(self, watcher: InstanceWatcher, retrier: RejectedRetrier | None) -> None:
        """The watcher gives back ended days' slots, learns durations and offers rejected
        days to `retrier`; a kept chunk wakes the watcher up."""
        self.retrier = retrier
        watcher.on_update = self.on_update
        if retrier is not None:
            watcher.busy = retrier.busy
        capacity = self.capacity
        shared = self.shared
        if capacity is not None:
            capacity.on_hold = watcher.nudge
            watcher.eager = lambda job: (
                capacity.awaited(JobKey(job.region, job.namespace, job.group_id, job.job_id))
                or (
                    shared is not None and shared.awaited((job.region, job.namespace, job.group_id))
                )
            )

    def on_update(self, item: DayInstance) -> None:
        """One day's instance as the watcher just recorded it."""
        if not item.status.ended:
            return
        if self.shared is not None:
            self.shared.nudge()
        job = self.capacity.job_of(item.chunk_key) if self.capacity is not None else None
        if self.capacity is not None:
            self.capacity.ended(item.chunk_key, item.day)
        timed = item.start_time and item.end_time
        if job is not None and item.status is InstanceState.SUCCESS and timed:
            with contextlib.suppress(ValueError):
                started = server_time_to_epoch(item.start_time or "", self.zone)
                ended = server_time_to_epoch(item.end_time or "", self.zone)
                self.durations.record(job, ended - started, resolution=1.0)
        if self.retrier is not None:
            if item.status is not InstanceState.REJECTED:
                self.retrier.freed(item.job_id)
            self.retrier.offer(item)

    async def follow(self, journal: Journal, poll: float) -> None:
        """Give back the slots of days whose end another replica's watcher recorded (a
        shared journal: this replica's watcher then never sees them change), every
        `poll` seconds until cancelled."""
        capacity = self.capacity
        if capacity is None:
            return
        while True:
            await self.clock.sleep(poll)
            keys = capacity.held_keys()
            if not keys:
                continue
            seen = await journal_read(journal, journal.day_instances, keys)
            freed = [
                capacity.ended(item.chunk_key, item.day)
                for item in seen.values()
                if item.status.ended
            ]
            if any(freed) and self.shared is not None:
                self.shared.nudge()


def adopt_open_days(
    capacity: InstanceGate, journal: Journal, view: JobView, key: JobKey, now: float
) -> None:
    """Count a job's instances still active (the journal's open days) as held by it."""
    open_days = Counter(
        day.record.key for day in open_days_of(journal, view, now - HORIZON_SECONDS)
    )
    for chunk_key, days in open_days.items():
        capacity.adopt(chunk_key, key, days)


def refuse_unwatched_caps(plan: Plan, *, watch: bool) -> None:
    """Raises `NeighbourError` if the plan sets a numeric cap and nothing will watch."""
    caps = plan_caps(plan).values()
    if not watch and any(isinstance(c.per_job, int) or c.per_group is not None for c in caps):
        raise NeighbourError(
            "max_active_per_job/max_active_per_group need watching (it is what sees "
            "instances end and frees their slots): drop --no-watch, or the caps"
        )


def build_neighbour(
    plan: Plan,
    facts: Mapping[JobIdentity, JobFactsEntry],
    clock: Clock,
    *,
    watch: bool,
    slots: GroupSlotSource | None = None,
) -> Neighbour:
    """The gates for `plan`, given what the pre-flight learnt (empty without it);
    `slots`: a shared journal's group slots (group caps then count every replica's).

    Raises:
        NeighbourError: a numeric cap without watching.
    """
    zone = ZoneInfo(plan.timezone)
    durations = Durations()
    caps = plan_caps(plan)
    if not watch:
        refuse_unwatched_caps(plan, watch=watch)
        note = "--no-watch: no cap on active instances (max_active_per_job: auto needs the watcher)"
        return Neighbour(None, (), durations, zone, clock, [note] if facts else [])
    by_job = {JobKey(j.region, j.namespace, j.group_id, j.job_id): f for j, f in facts.items()}
    job_caps: dict[JobKey, int] = {}
    undescribed = 0
    for key, c in caps.items():
        if isinstance(c.per_job, int):
            job_caps[key] = c.per_job
        elif key in by_job:
            job_caps[key] = max(1, by_job[key].max_concurrency)
        else:
            undescribed += 1
    group_caps: dict[GroupKey, int] = {}
    for key, c in caps.items():
        if c.per_group is not None:
            group = (key.region, key.namespace, key.group_id)
            group_caps[group] = min(group_caps.get(group, c.per_group), c.per_group)
    notes = []
    if undescribed:
        notes.append(
            f"max_active_per_job: auto: {undescribed} jobs were not checked by the pre-flight "
            "(--no-preflight), so their MaxConcurrency is unknown: no per-job cap for them"
        )
    if not job_caps and not group_caps:
        return Neighbour(None, (), durations, zone, clock, notes)
    capacity = InstanceGate(
        lambda job: job_caps.get(job, UNCAPPED), group_caps.get if group_caps else None
    )
    schedules = _production_schedules(by_job)
    gates: tuple[Gate, ...] = ()
    if schedules:
        production = ProductionGate(schedules.get, capacity.active, durations, zone, clock)
        gates = (production,)
    shared = None
    if group_caps and slots is not None:  # before the capacity gate (which cuts further)
        shared = SharedGroupGate(slots, group_caps.get, clock, horizon=HORIZON_SECONDS)
        gates = (*gates, shared)
    return Neighbour(capacity, gates, durations, zone, clock, notes, shared=shared)


def _production_schedules(facts: Mapping[JobKey, JobFactsEntry]) -> dict[JobKey, QuartzCron]:
    """The crons of the jobs whose scheduled run is skipped while the job is busy."""
    out = {}
    for key, entry in facts.items():
        if entry.max_concurrency != 1 or entry.time_type != 1 or not entry.expression:
            continue
        with contextlib.suppress(QuartzError):
            out[key] = QuartzCron(entry.expression)
    return out


__all__ = [
    "Caps",
    "Neighbour",
    "NeighbourError",
    "adopt_open_days",
    "build_neighbour",
    "plan_caps",
    "refuse_unwatched_caps",
]
