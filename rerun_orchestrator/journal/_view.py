"""A plan seen through the ledger: per job, which days are covered, failed or open, and the
chunks that would send the open ones.

This is how chunks are derived at dispatch time (the executor), and how reports, counts
and the run's exit code are computed: always from the plan's days and the journal's
spans, one indexed read per job, never from a list of every chunk kept anywhere.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ..plan._calendar import local_midnight_ms
from ..plan._model import Chunk, chunk_key
from ._ledger import DayState, Segment, cut, segments, sendable_spans
from ._model import ChunkRecord, ChunkStatus, JobIdentity
from ._store import Journal

if TYPE_CHECKING:  # `status` reads journals and never builds a plan
    from ..plan._plan import Plan, Target


@dataclass(frozen=True, slots=True)
class JobPlan:
    """One job of one target: the days the plan asks of it."""

    target: Target
    job_id: int

    @property
    def identity(self) -> JobIdentity:
        t = self.target
        return JobIdentity(t.region, t.namespace, t.namespace_source, t.group_id, self.job_id)

    @property
    def first_day(self) -> date:
        return self.target.first_day

    @property
    def last_day(self) -> date:
        return self.target.last_day


def plan_jobs(plan: Plan) -> Iterator[JobPlan]:
    """The plan's jobs in plan order (targets as listed, jobs as listed)."""
    for target in plan.targets:
        for job_id in target.job_ids():
            yield JobPlan(target, job_id)


@dataclass(frozen=True, slots=True)
class JobView:
    """A job's windows cut into segments by state, and the records that touch them."""

    job: JobPlan
    windows: tuple[tuple[Segment, ...], ...]  # one tuple per window of the target
    records: tuple[ChunkRecord, ...]

    def segments(self) -> Iterator[Segment]:
        for window in self.windows:
            yield from window

    def doubtful(self) -> list[ChunkRecord]:
        """Records in flight or unknown that hold a day of the plan: to reconcile first."""
        keys = {
            s.record.key
            for s in self.segments()
            if s.record is not None
            and s.record.status in (ChunkStatus.IN_FLIGHT, ChunkStatus.UNKNOWN)
        }
        return [r for r in self.records if r.key in keys]


def job_view(journal: Journal, job: JobPlan, *, generation: int = 0) -> JobView:
    """What the journal says about `job`'s days (one read)."""
    records = tuple(journal.job_records(job.identity, job.first_day, job.last_day))
    windows = tuple(
        tuple(segments(w.start, w.end, records, generation=generation)) for w in job.target.windows
    )
    return JobView(job, windows, records)


@dataclass(frozen=True, slots=True)
class Finished:
    """A job every day of which succeeded: how many records, and whose days."""

    records: int
    days_by_plan: dict[str, int]


def finished(journal: Journal, job: JobPlan, *, generation: int = 0) -> Finished | None:
    """The job's succeeded records if every day of every window is held by one (a job a
    resume has nothing to do for), else None. Counted by the journal, so a resume of a
    mostly finished plan skips its finished jobs without reading them."""
    records = 0
    by_plan: Counter[str] = Counter()
    for window in job.target.windows:
        held = journal.succeeded_days(job.identity, window.start, window.end, generation=generation)
        if held is None or sum(days for _, days, _ in held) != window.days:
            return None
        for plan, days, count in held:
            by_plan[plan or "?"] += days
            records += count
    return Finished(records, dict(by_plan))


def derive_chunks(
    view: JobView, zone: ZoneInfo, *, retry_failed: bool, newest_first: bool = False
) -> list[Chunk]:
    """The chunks that send the job's sendable days: consecutive such days of a window, cut
    into runs of at most `chunk_days` (on an empty journal: the plan's own chunks)."""
    target = view.job.target
    chunks = [
        make_chunk(target, view.job.job_id, first, last, zone)
        for window in view.windows
        for first, last in cut(sendable_spans(window, retry_failed=retry_failed), target.chunk_days)
    ]
    chunks.sort(key=lambda c: c.first_day, reverse=newest_first)
    return chunks


def make_chunk(target: Target, job_id: int, first: date, last: date, zone: ZoneInfo) -> Chunk:
    """The chunk of `first..last` of a job, keyed as the plan keys its own chunks."""
    return Chunk(
        key=chunk_key(
            region=target.region,
            namespace=target.namespace,
            namespace_source=target.namespace_source,
            group_id=target.group_id,
            job_id=job_id,
            first_day=first,
            last_day=last,
            data_time=target.data_time,
        ),
        region=target.region,
        namespace=target.namespace,
        namespace_source=target.namespace_source,
        group_id=target.group_id,
        job_id=job_id,
        first_day=first,
        last_day=last,
        start_date=local_midnight_ms(first, zone),
        end_date=local_midnight_ms(last, zone),
        data_time=target.data_time,
        days=(last - first).days + 1,
    )


def viewed_chunks(view: JobView, zone: ZoneInfo) -> Iterator[ChunkRecord]:
    """The job's chunks for a report: each record that covers or refused days of the plan,
    then a pending record for each chunk that would send the open days (the journal's,
    with its attempts, when it has tried that very chunk before)."""
    seen: set[str] = set()
    for segment in view.segments():
        record = segment.record
        if record is not None and record.key not in seen:
            seen.add(record.key)
            yield record
    by_key = {r.key: r for r in view.records}
    for chunk in derive_chunks(view, zone, retry_failed=False):
        known = by_key.get(chunk.key)
        if known is not None and known.status is ChunkStatus.PENDING:
            yield known
        else:
            yield ChunkRecord(chunk, ChunkStatus.PENDING)


@dataclass(slots=True)
class PlanCounts:
    """A plan's chunks and days by state, from its views."""

    chunks: Counter[ChunkStatus]
    days: Counter[ChunkStatus]
    days_by_plan: Counter[str]  # covered days by the plan that covered them

    @property
    def complete(self) -> bool:
        """Every day of the plan is covered by a succeeded record."""
        return sum(self.days.values()) == self.days[ChunkStatus.SUCCEEDED]


def plan_counts(journal: Journal, plan: Plan, *, generation: int = 0) -> PlanCounts:
    """Count the plan's chunks and days by state: one read per job, arithmetic on spans."""
    zone = ZoneInfo(plan.timezone)
    counts = PlanCounts(Counter(), Counter(), Counter())
    for job in plan_jobs(plan):
        done = finished(journal, job, generation=generation)
        if done is not None and len(job.target.windows) == 1:  # counted without reading
            counts.chunks[ChunkStatus.SUCCEEDED] += done.records
            counts.days[ChunkStatus.SUCCEEDED] += job.target.days_per_job
            counts.days_by_plan.update(done.days_by_plan)
            continue
        view = job_view(journal, job, generation=generation)
        if not view.records:  # untouched: the plan's own cut, counted without deriving it
            counts.chunks[ChunkStatus.PENDING] += job.target.chunks_per_job
            counts.days[ChunkStatus.PENDING] += job.target.days_per_job
            continue
        for record in viewed_chunks(view, zone):
            counts.chunks[record.status] += 1
        for segment in view.segments():
            status = day_status(segment)
            counts.days[status] += segment.days
            if segment.state is DayState.COVERED and segment.record is not None:
                counts.days_by_plan[segment.record.plan or "?"] += segment.days
    return counts


def day_status(segment: Segment) -> ChunkStatus:
    """The journal state of a segment's days (open days are pending)."""
    return segment.record.status if segment.record is not None else ChunkStatus.PENDING
