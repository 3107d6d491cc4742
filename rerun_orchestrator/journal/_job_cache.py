"""A job's records over its days, read once and kept current by every write: the ledger's
reads of one job while its chunks are sent.

A run asks the journal for the same job's records again and again: the job's view, then
for each chunk the separation's check and the in-flight mark's check that no day is sent
twice, and the proposal that looks the chunk up. On SQLite each was an indexed read (with
the staged writes laid over it), a third of the CPU a journal adds to a call. Here the
first read of a job's span is kept; every record the writer stages afterwards updates it,
so later asks within that span are answered from memory, exactly as a read would.

Coherent for the reason the writer's own records are: the run lock makes this process's
writer the only one, and every write of a chunk record goes through it (`stage`), or
through a transaction that clears the cache (`GroupCommitWriter.transact`). Bounded: the
jobs a run works on at once (its lanes), `MAX_JOBS` at most, the oldest forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from ._model import ChunkRecord, JobIdentity

MAX_JOBS = 256
MAX_RECORDS = 4096  # per job: a longer job is read each time, as before


@dataclass(slots=True)
class _Span:
    first: date
    last: date
    records: dict[str, ChunkRecord]  # by key, in the read's order, then new keys


class JobRecordsCache:
    """Not thread-safe by itself: the writer calls it under its lock."""

    def __init__(self, max_jobs: int = MAX_JOBS) -> None:
        self._max_jobs = max_jobs
        self._jobs: OrderedDict[JobIdentity, _Span] = OrderedDict()

    def records(self, job: JobIdentity, first: date, last: date) -> list[ChunkRecord] | None:
        """The records of `job` holding a day of `first..last` by first day, or None
        when that span is not known (read it, then `fill`)."""
        span = self._span(job, first, last)
        if span is None:
            return None
        found = [
            r
            for r in span.records.values()
            if r.chunk.first_day <= last and r.chunk.last_day >= first
        ]
        if len(found) > 1:
            found.sort(key=lambda r: r.chunk.first_day)  # stable: the read's order on ties
        return found

    def lookup(
        self, job: JobIdentity, first: date, last: date, key: str
    ) -> tuple[bool, ChunkRecord | None]:
        """(known, record): whether the span of `first..last` is known, and `key`'s record
        in it (None: the journal has none)."""
        span = self._span(job, first, last)
        return (False, None) if span is None else (True, span.records.get(key))

    def fill(
        self, job: JobIdentity, first: date, last: date, records: Iterable[ChunkRecord]
    ) -> None:
        """Keep what a read of `job` over `first..last` returned, with nothing staged since."""
        by_key = {record.key: record for record in records}
        if len(by_key) > MAX_RECORDS:
            self._jobs.pop(job, None)
            return
        self._jobs[job] = _Span(first, last, by_key)
        self._jobs.move_to_end(job)
        while len(self._jobs) > self._max_jobs:
            self._jobs.popitem(last=False)

    def _span(self, job: JobIdentity, first: date, last: date) -> _Span | None:
        """The job's known span if it holds `first..last` (the most recently used now)."""
        span = self._jobs.get(job)
        if span is None or first < span.first or last > span.last:
            return None
        self._jobs.move_to_end(job)
        return span

    def staged(self, record: ChunkRecord) -> None:
        """A record was written: the known span of its job holds it from now on."""
        chunk = record.chunk
        span = self._jobs.get(JobIdentity.of(chunk))
        if span is not None and chunk.first_day <= span.last and chunk.last_day >= span.first:
            span.records[record.key] = record

    def clear(self) -> None:
        self._jobs.clear()
