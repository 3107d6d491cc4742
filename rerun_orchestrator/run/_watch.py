"""The watcher: follows each accepted day's rerun instance until it ends, into the journal.

An accepted RerunJob only says SchedulerX created instances; whether each day's data was
rebuilt is what its instance did. The watcher finds, for every day of the plan that an
accepted chunk covers, the rerun instance (TriggerType 2, data day = that day, scheduled
after the attempt began) and follows it to its end, writing id, status, start and end to
the journal as soon as it sees them (SchedulerX keeps only the newest ~300 instances of a
job: what is not recorded while visible is lost).

Cost: one GetJobInstanceList listing per job per poll covers every open day of that job
(the `InstanceFinder`'s paged, paced, retried `list_instances`, shared with the reconciler
and the guard). A job's
polls back off (doubling up to `max_poll`) while nothing of it changes. Which time the
listing's window bounds is undocumented: the first poll asks both windows, and the
reading that finds our instances is kept.

`unknown`, with why: no instance appeared within `appear_seconds` of the accepted call,
or an instance seen before vanished from the history (pruned) before it ended.
"""

from __future__ import annotations

import contextlib
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

import anyio
import structlog

from .._clock import Clock, SystemClock
from ..journal._instances import DayInstance, InstanceState, instance_state
from ..journal._model import JobIdentity
from ..journal._store import Journal
from ..journal._view import job_view, plan_jobs
from ..plan._plan import Plan
from ..schedulerx._errors import ApiCallError
from ..schedulerx._wire import JobInstance
from ._events import EventSink, InstanceChanged
from ._finder import InstanceSource, time_windows
from ._judge import RERUN_TRIGGER_TYPES, data_day, server_time_to_epoch
from ._offloop import journal_read, journal_write
from ._open_days import OpenDay, instance_counts, open_days_of, watchable

_log = structlog.get_logger("rerun_orchestrator.run")

APPEAR_SECONDS = 600.0  # an accepted day's instance must be listed within this long
HORIZON_SECONDS = 7 * 86_400.0  # accepted longer ago than this: not watched
_SKEW = 300.0
_SENDING_RESCAN = 5  # while sending, look for new accepted days every 5 polls' time


@dataclass(slots=True)
class _JobPolls:
    due: float = 0.0
    interval: float = 0.0
    polls: int = 0


@dataclass(slots=True)
class InstanceWatcher:
    """Watches the plan's accepted days; one per run."""

    finder: InstanceSource  # an `InstanceFinder` (or the run's `Reconciler`, which has one)
    journal: Journal
    plan: Plan
    clock: Clock = field(default_factory=SystemClock)
    generation: int = 0
    appear_seconds: float = APPEAR_SECONDS
    min_poll: float = 2.0
    max_poll: float = 60.0
    acquire: Callable[[], Awaitable[None]] | None = None  # the watcher's own share, if any
    horizon_seconds: float = HORIZON_SECONDS
    calls: int = 0  # listings asked (pages are counted by the reconciler's log)
    changes: int = 0  # status changes recorded
    lags: list[float] = field(default_factory=list)  # end seen - end on the server, seconds
    events: EventSink = field(default_factory=EventSink)
    # every recorded change, as it is recorded (the capacity caps give ended days back)
    on_update: Callable[[DayInstance], None] | None = None
    # while this says True the watch goes on (days waiting to be retried in place)
    busy: Callable[[], bool] | None = None
    # a job something waits on (capacity): polled at `min_poll`, never backed off
    eager: Callable[[JobIdentity], bool] | None = None
    _changed: anyio.Event | None = None
    _nudged: anyio.Event | None = None
    _nudge_pending: bool = False
    _reading: str | None = None
    _polls: dict[JobIdentity, _JobPolls] = field(default_factory=dict)
    _claims: dict[JobIdentity, frozenset[int]] = field(default_factory=dict)

    @property
    def since(self) -> float:
        """Records accepted before this wall time are not watched (long pruned)."""
        return self.clock.wall() - self.horizon_seconds

    def open_days(self) -> dict[JobIdentity, list[OpenDay]]:
        """Per job, the accepted days whose instance has not been seen to end."""
        out: dict[JobIdentity, list[OpenDay]] = {}
        for job in plan_jobs(self.plan):
            view = job_view(self.journal, job, generation=self.generation)
            days = open_days_of(self.journal, view, self.since)
            if days:
                out[job.identity] = days
        return out

    async def run(self, sending_done: anyio.Event | None = None) -> None:
        """Poll until every accepted day has ended (and sending, if given, is over)."""
        while True:
            open_days = await journal_read(self.journal, self.open_days)
            sent = sending_done is None or sending_done.is_set()
            if not open_days and sent and not (self.busy is not None and self.busy()):
                return
            now = self.clock.now()
            for job, days in open_days.items():
                polls = self._polls.setdefault(job, _JobPolls(interval=self.min_poll))
                if polls.due <= now:
                    changed = await self.poll_job(job, days)
                    polls.polls += 1
                    eager = changed or (self.eager is not None and self.eager(job))
                    polls.interval = (
                        self.min_poll if eager else min(polls.interval * 2, self.max_poll)
                    )
                    polls.due = self.clock.now() + polls.interval
            dues = [self._polls[job].due for job in open_days if job in self._polls]
            wait = min(dues, default=self.clock.now() + self.min_poll) - self.clock.now()
            if sending_done is not None and not sending_done.is_set():
                # new chunks may be accepted meanwhile: look again soon, not constantly
                wait = min(wait, _SENDING_RESCAN * self.min_poll)
            await self._pause(max(wait, 0.05), sending_done)

    def reading(self) -> str | None:
        """Which time the server's listing window filters on, once learned from our own
        instances ("schedule_time" or "data_time"), else None."""
        return self._reading

    def nudge(self) -> None:
        """A chunk was just accepted (or a day retried): look for it now, and poll its
        job soon, instead of at the backed-off pace (capacity waits on what it sees)."""
        for polls in self._polls.values():
            polls.interval = self.min_poll
            polls.due = min(polls.due, self.clock.now() + self.min_poll)
        self._nudge_pending = True
        if self._nudged is not None:
            self._nudged.set()

    async def _pause(self, seconds: float, sending_done: anyio.Event | None) -> None:
        """Sleep `seconds` on the clock, or until `nudge`, or until sending ends (the days
        it accepted last, often all that is left to see, are looked at then)."""
        if self._nudge_pending:
            self._nudge_pending = False
            await anyio.lowlevel.checkpoint()
            return
        nudged = self._nudged = anyio.Event()
        async with anyio.create_task_group() as tg:

            async def sleep() -> None:
                await self.clock.sleep(seconds)
                tg.cancel_scope.cancel()

            async def woken(event: anyio.Event) -> None:
                await event.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(sleep)
            tg.start_soon(woken, nudged)
            if sending_done is not None and not sending_done.is_set():
                tg.start_soon(woken, sending_done)
        self._nudged = None
        self._nudge_pending = False

    async def poll_job(self, job: JobIdentity, days: list[OpenDay]) -> bool:
        """One listing of `job`; records what changed; True if anything did."""
        zone = ZoneInfo(self.plan.timezone)
        probe = days[0].record.chunk
        attempts = [d.record.attempt_started_at for d in days if d.record.attempt_started_at]
        now = self.clock.wall()
        since = min(attempts, default=now - 7 * 86_400)
        first, last = min(d.day for d in days), max(d.day for d in days)
        windows = time_windows(since, now, first, last, zone, skew=_SKEW)
        readings = [self._reading] if self._reading else list(windows)
        found: dict[str, list[JobInstance]] = {}
        for reading in readings:
            low, high = windows[reading]
            if self.acquire is not None:
                await self.acquire()
            self.calls += 1
            try:
                listed = await self.finder.list_instances(
                    probe, low, high, reading=f"watch:{reading}"
                )
            except ApiCallError as exc:
                _log.warning("rerun.watch.refused", job_id=job.job_id, code=exc.result.code)
                return False
            if listed is None:  # not answered: silence is not absence
                return False
            found[reading] = [i for i in listed if i.job_id == job.job_id]
        claimed = await self._claimed(job)
        matched = {r: _match(days, rows, zone, claimed) for r, rows in found.items()}
        if self._reading is None:
            hits = [r for r, m in matched.items() if m]
            if len(hits) == 1 and len(matched) == 2:
                self._reading = hits[0]
                _log.info("rerun.watch.reading", window=self._reading)
        by_day: dict[tuple[str, date], JobInstance] = {}
        for m in matched.values():
            by_day.update(m)
        listed_ids = {i.instance_id for rows in found.values() for i in rows}
        updates = self._record(days, by_day, listed_ids, zone)
        if updates:
            await journal_write(self.journal, self.journal.record_day_instances, updates)
            self.changes += len(updates)
            if self.on_update is not None:
                for item in updates:
                    self.on_update(item)
            for item in updates:
                self.events.emit(_event(item))
            if self._changed is not None:
                self._changed.set()
                self._changed = None
        return bool(updates)

    async def _claimed(self, job: JobIdentity) -> frozenset[int]:
        """The instance ids the journal gives to `job`'s records of other generations: read
        once per job, as this run writes only its own generation's."""
        if job not in self._claims:
            first = min(w.start for t in self.plan.targets for w in t.windows)
            last = max(w.end for t in self.plan.targets for w in t.windows)
            self._claims[job] = await journal_read(
                self.journal, _claimed, self.journal, job, first, last, self.generation
            )
        return self._claims[job]

    def _record(
        self,
        days: list[OpenDay],
        by_day: dict[tuple[str, date], JobInstance],
        listed_ids: set[int],
        zone: ZoneInfo,
    ) -> list[DayInstance]:
        now = self.clock.wall()
        updates: list[DayInstance] = []
        for open_day in days:
            record, day, known = open_day.record, open_day.day, open_day.known
            instance = by_day.get((record.key, day))
            if instance is not None:
                new = DayInstance(
                    record.key,
                    day,
                    record.chunk.job_id,
                    instance.instance_id,
                    instance_state(instance.status),
                    instance.start_time,
                    instance.end_time,
                    known.reason if known else None,
                    now,
                    known.retries if known else 0,
                )
                if known is None or (known.status, known.instance_id, known.start_time) != (
                    new.status,
                    new.instance_id,
                    new.start_time,
                ):
                    updates.append(new)
                    if new.status.ended and new.end_time:
                        self._lag(new.end_time, now, zone)
            elif known is not None and known.instance_id is not None:
                if known.instance_id not in listed_ids:
                    updates.append(
                        _unknown(
                            known,
                            now,
                            f"instance {known.instance_id} left the server's history "
                            f"(it keeps about the newest 300 per job) while {known.status}; "
                            "its outcome cannot be read any more",
                        )
                    )
            elif (record.attempt_started_at or 0) + self.appear_seconds < now:
                base = known or DayInstance(record.key, day, record.chunk.job_id, None, _W)
                updates.append(
                    _unknown(
                        base,
                        now,
                        f"no rerun instance for {day} appeared within {self.appear_seconds:g} s "
                        "of the accepted call (or the server pruned it before it was seen)",
                    )
                )
        return updates

    def _lag(self, end_time: str, now: float, zone: ZoneInfo) -> None:
        with contextlib.suppress(ValueError):
            self.lags.append(max(0.0, now - server_time_to_epoch(end_time, zone)))

    async def changed(self) -> None:
        """Returns at the next recorded status change (for a caller that paces sends by
        what has ended, e.g. capacity caps)."""
        if self._changed is None:
            self._changed = anyio.Event()
        await self._changed.wait()

    def polls_per_job(self) -> Counter[int]:
        return Counter({job.job_id: p.polls for job, p in self._polls.items()})


_W = InstanceState.WAITING


def _unknown(base: DayInstance, now: float, why: str) -> DayInstance:
    return DayInstance(
        base.chunk_key,
        base.day,
        base.job_id,
        base.instance_id,
        InstanceState.UNKNOWN,
        base.start_time,
        base.end_time,
        why,
        now,
        base.retries,
    )


def _claimed(
    journal: Journal, job: JobIdentity, first: date, last: date, generation: int
) -> frozenset[int]:
    """The instance ids the journal gives to `job`'s records of `first..last` of another
    generation than `generation`: never taken for one of this generation's days (the worst
    a wrong exclusion can do here is leave a day unknown, never resend it). The records of
    this generation hold no other day of it: the ledger lets no two overlap."""
    others = [r for r in journal.job_records(job, first, last) if r.generation != generation]
    if not others:
        return frozenset()
    named = {i for r in others for i in r.instance_ids}
    known = journal.day_instances(r.key for r in others).values()
    named.update(item.instance_id for item in known if item.instance_id is not None)
    return frozenset(named)


def _match(
    days: list[OpenDay], rows: Iterable[JobInstance], zone: ZoneInfo, claimed: Collection[int]
) -> dict[tuple[str, date], JobInstance]:
    """Each open day's instance among `rows`: the known id if there is one, else the rerun
    instance of that data day scheduled after the day's attempt began (the earliest), never
    one the journal gives to another record (`claimed`)."""
    wanted: dict[date, list[OpenDay]] = defaultdict(list)
    for d in days:
        wanted[d.day].append(d)
    by_id = {d.known.instance_id: d for d in days if d.known and d.known.instance_id}
    out: dict[tuple[str, date], JobInstance] = {}
    candidates: dict[tuple[str, date], list[tuple[float, JobInstance]]] = defaultdict(list)
    for row in rows:
        if row.instance_id in by_id:
            d = by_id[row.instance_id]
            out[(d.record.key, d.day)] = row
            continue
        if row.trigger_type not in RERUN_TRIGGER_TYPES or row.instance_id in claimed:
            continue
        try:
            day = data_day(row.data_time)
            scheduled = server_time_to_epoch(row.schedule_time, zone)
        except ValueError:
            continue
        for d in wanted.get(day, ()):
            if d.known is not None and d.known.instance_id is not None:
                continue
            ids = d.record.instance_ids
            started = d.record.attempt_started_at
            if ids and row.instance_id not in ids:
                continue
            if not ids and started is not None and scheduled < started - _SKEW:
                continue
            candidates[(d.record.key, d.day)].append((scheduled, row))
    for key, rows_of_day in candidates.items():
        out.setdefault(key, min(rows_of_day, key=lambda c: (c[0], c[1].instance_id))[1])
    return out


def _event(item: DayInstance) -> InstanceChanged:
    return InstanceChanged(
        job_id=item.job_id,
        day=item.day.isoformat(),
        instance_id=item.instance_id,
        status=item.status.value,
        chunk=item.chunk_key,
        reason=item.reason,
    )


__all__ = [
    "APPEAR_SECONDS",
    "HORIZON_SECONDS",
    "InstanceWatcher",
    "OpenDay",
    "instance_counts",
    "open_days_of",
    "watchable",
]
