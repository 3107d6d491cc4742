"""Which accepted days are still open: what the watcher follows, what holds capacity.

A day is open when an accepted record (a chunk RerunJob took) covers it and its rerun
instance has not been seen to end. Records accepted before the watch horizon are not
watched: SchedulerX has long pruned their instances.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from ..journal._instances import DayInstance
from ..journal._ledger import Segment
from ..journal._model import ChunkRecord, ChunkStatus
from ..journal._store import Journal
from ..journal._view import JobView, day_status, job_view, plan_jobs
from ..plan._plan import Plan


@dataclass(frozen=True, slots=True)
class OpenDay:
    """A day an accepted record covers whose instance has not ended (or not been seen)."""

    record: ChunkRecord
    day: date
    known: DayInstance | None


def open_days_of(journal: Journal, view: JobView, since: float) -> list[OpenDay]:
    """The days of one job's view that an accepted record covers and whose instance has
    not been seen to end (what the watcher follows; what holds a job's capacity)."""
    segments = _accepted(view.segments(), since)
    if not segments:
        return []
    known = journal.day_instances({s.record.key for s in segments if s.record})
    days = []
    for segment in segments:
        record = segment.record
        assert record is not None
        for n in range(segment.days):
            day = segment.first + timedelta(days=n)
            seen = known.get((record.key, day))
            if seen is None or not seen.status.ended:
                days.append(OpenDay(record, day, seen))
    return days


def watchable(record: ChunkRecord, since: float) -> bool:
    """A succeeded record whose instances can be looked for: one this tool sent (an
    attempt began) after `since`, or whose instance ids were found. A day settled by hand
    as succeeded was never sent by us: it is taken on the person's word; one accepted
    before `since` (a journal of the first release, say) is long pruned from the server's
    history: it stays accepted, unwatched (instance_status null)."""
    if record.status is not ChunkStatus.SUCCEEDED:
        return False
    if record.attempt_started_at is not None:
        return record.attempt_started_at >= since
    return bool(record.instance_ids)


def _accepted(segments: Iterable[Segment], since: float) -> list[Segment]:
    return [
        s
        for s in segments
        if s.record is not None
        and day_status(s) is ChunkStatus.SUCCEEDED
        and watchable(s.record, since)
    ]


def instance_counts(
    journal: Journal, plan: Plan, *, generation: int = 0, since: float = 0.0
) -> Counter[str]:
    """The plan's watchable accepted days by instance status ("null": never seen)."""
    counts: Counter[str] = Counter()
    for job in plan_jobs(plan):
        view = job_view(journal, job, generation=generation)
        segments = _accepted(view.segments(), since)
        known = journal.day_instances({s.record.key for s in segments if s.record})
        for segment in segments:
            assert segment.record is not None
            for n in range(segment.days):
                seen = known.get((segment.record.key, segment.first + timedelta(days=n)))
                counts["null" if seen is None else seen.status.value] += 1
    return counts


__all__ = ["OpenDay", "instance_counts", "open_days_of", "watchable"]
