"""Other records' claims on a chunk's days: which rerun instances are already someone else's.

A doubtful chunk is judged by the rerun instances of its days scheduled since its attempt
began, less the allowed clock skew (5 minutes). A day may have more than one record: a
deliberate rerun (`--rerun-succeeded`) sends a day its plan already covered, so when the
deliberate run starts within the skew of the earlier one, the earlier rerun's instances fall
inside the window too. Taken as this attempt's, they settle an attempt that never reached
the server as succeeded, and the day is silently not rerun.

So the journal says what it knows of the other records of the same days:
- `ids`: instances it already gives them (found by their reconciliation, or followed by the
  watcher): never evidence for this attempt;
- `unnamed`: per day, the other records whose attempt may have applied but whose instance
  the journal does not know, with when that attempt was last heard of. Each whose attempt
  reaches into the judged window may own one of the day's instances there: only more
  instances than such claims prove this attempt's, and fewer leave the day undecidable,
  never a guess (`judge_instances` applies the window).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta

from ..journal._instances import DayInstance
from ..journal._model import ChunkRecord, ChunkStatus, JobIdentity
from ..journal._store import Journal
from ..schedulerx._classify import is_explicit_refusal


@dataclass(frozen=True, slots=True)
class PriorClaims:
    """What the journal attributes to records other than the one being judged."""

    ids: frozenset[int] = frozenset()
    # (day, wall seconds the other record's attempt was last heard of, None if never)
    unnamed: tuple[tuple[date, float | None], ...] = ()

    def unnamed_on(self, day: date, *, since: float) -> int:
        """How many other records may own an unnamed instance of `day` scheduled since
        `since` (an attempt last heard of before it created nothing that late)."""
        return sum(1 for d, heard in self.unnamed if d == day and (heard is None or heard >= since))


NO_CLAIMS = PriorClaims()


def may_have_applied(record: ChunkRecord) -> bool:
    """Whether `record`'s last attempt may have created instances."""
    if record.attempt_started_at is None and record.status is not ChunkStatus.SUCCEEDED:
        return False
    if record.status in (ChunkStatus.SUCCEEDED, ChunkStatus.IN_FLIGHT, ChunkStatus.UNKNOWN):
        return True
    return record.status is ChunkStatus.FAILED and not is_explicit_refusal(record.code)


def prior_claims(journal: Journal, record: ChunkRecord) -> PriorClaims:
    """The claims of `record`'s days by the journal's other records of the same job."""
    chunk = record.chunk
    job = JobIdentity.of(chunk)
    others, known, ids = _others(journal, job, chunk.first_day, chunk.last_day, {record.key})
    if not others:
        return NO_CLAIMS
    unnamed: list[tuple[date, float | None]] = []
    for other in others:
        if other.instance_ids or not may_have_applied(other):
            continue  # its instances, if any, are known by id
        heard = _answered_at(other)
        for day in _days(other, record):
            item = known.get((other.key, day))
            if item is None or item.instance_id is None:
                unnamed.append((day, heard))
    return PriorClaims(ids, tuple(unnamed))


def claimed_ids(
    journal: Journal, job: JobIdentity, first: date, last: date, keys: Collection[str]
) -> frozenset[int]:
    """The instance ids the journal gives to records of `job`'s days `first..last` other
    than `keys` (the watcher never takes one of them for a day of `keys`)."""
    return _others(journal, job, first, last, keys)[2]


def _others(
    journal: Journal, job: JobIdentity, first: date, last: date, keys: Collection[str]
) -> tuple[list[ChunkRecord], dict[tuple[str, date], DayInstance], frozenset[int]]:
    """The other records of those days, their known day instances, and every id they own."""
    others = [other for other in journal.job_records(job, first, last) if other.key not in keys]
    if not others:
        return [], {}, frozenset()
    known = journal.day_instances(other.key for other in others)
    ids = {i for other in others for i in other.instance_ids}
    ids.update(item.instance_id for item in known.values() if item.instance_id is not None)
    return others, known, frozenset(ids)


def _answered_at(record: ChunkRecord) -> float | None:
    """When the server last answered `record`'s attempt (its instances are stamped no later),
    or None if it may still be processing it, as far as we know (in flight, unknown, failed
    without a refusal)."""
    if record.status is not ChunkStatus.SUCCEEDED:
        return None
    return max(filter(None, (record.attempt_started_at, record.updated_at)), default=None)


def _days(other: ChunkRecord, record: ChunkRecord) -> list[date]:
    first = max(other.chunk.first_day, record.chunk.first_day)
    last = min(other.chunk.last_day, record.chunk.last_day)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


__all__ = ["NO_CLAIMS", "PriorClaims", "claimed_ids", "may_have_applied", "prior_claims"]
