"""The ledger's arithmetic: which days of a window are covered, failed or open, and how the
open ones are cut into chunks. Pure functions of dates and records, property-tested.

A day's state follows from the records that contain it, by precedence: a covering record
(in flight, unknown, succeeded; of the generation asked for or a later one) makes it
*covered*; otherwise a failed record makes it *failed* (sent again only with
--retry-failed); otherwise it is *open*: never applied, safe to send. Pending records
cover nothing: they only remember the attempts of a chunk that may be derived again.

Everything works on spans (first, last), never on lists of days, so a job of a thousand
years costs what its records cost.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from ._model import ChunkRecord, ChunkStatus


class DayState(enum.StrEnum):
    COVERED = "covered"
    FAILED = "failed"
    OPEN = "open"


@dataclass(frozen=True, slots=True)
class Segment:
    """Consecutive days of a window in one state, with the record that put them there."""

    first: date
    last: date
    state: DayState
    record: ChunkRecord | None = None

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def covers(record: ChunkRecord, generation: int) -> bool:
    """Whether `record` covers its days for a run of `generation`."""
    return record.covers and record.generation >= generation


def segments(
    first: date, last: date, records: Iterable[ChunkRecord], *, generation: int = 0
) -> list[Segment]:
    """`first..last` cut into segments by state (see the module's docstring), in date order.

    `records` are the job's, in any order; those outside the window are ignored.
    """
    covering: list[tuple[int, int, ChunkRecord]] = []
    failed: list[tuple[int, int, ChunkRecord]] = []
    lo, hi = first.toordinal(), last.toordinal()
    for record in records:
        a, b = record.chunk.first_day.toordinal(), record.chunk.last_day.toordinal()
        if b < lo or a > hi:
            continue
        if covers(record, generation):
            covering.append((a, b, record))
        elif record.status is ChunkStatus.FAILED:
            failed.append((a, b, record))
    out: list[Segment] = []
    for a, b, cover in _carve(lo, hi, covering):
        if cover is not None:
            out.append(_segment(a, b, DayState.COVERED, cover))
            continue
        for c, d, refusal in _carve(a, b, failed):
            state = DayState.OPEN if refusal is None else DayState.FAILED
            out.append(_segment(c, d, state, refusal))
    return out


def cut(open_spans: Iterable[tuple[date, date]], chunk_days: int) -> Iterator[tuple[date, date]]:
    """Each span cut into runs of `chunk_days` days from its first day (the last may be
    shorter): on an empty ledger, exactly the plan's own cut of its windows."""
    for first, last in open_spans:
        end = last.toordinal()
        for start in range(first.toordinal(), end + 1, chunk_days):
            yield date.fromordinal(start), date.fromordinal(min(start + chunk_days - 1, end))


def sendable_spans(
    window_segments: Sequence[Segment], *, retry_failed: bool
) -> Iterator[tuple[date, date]]:
    """The maximal runs of days this run may send: open days, and failed ones if asked."""
    run: list[date] | None = None
    for segment in window_segments:
        sendable = segment.state is DayState.OPEN or (
            retry_failed and segment.state is DayState.FAILED
        )
        if sendable and run is not None and (segment.first - run[1]).days == 1:
            run[1] = segment.last
        elif sendable:
            if run is not None:
                yield run[0], run[1]
            run = [segment.first, segment.last]
        elif run is not None:
            yield run[0], run[1]
            run = None
    if run is not None:
        yield run[0], run[1]


def conflict(candidate: ChunkRecord, others: Iterable[ChunkRecord]) -> ChunkRecord | None:
    """A record (not `candidate` itself) that covers one of `candidate`'s days in its
    generation, or None: the invariant `mark_in_flight` enforces."""
    a, b = candidate.chunk.first_day, candidate.chunk.last_day
    for other in others:
        if other.key == candidate.key or not covers(other, candidate.generation):
            continue
        if other.chunk.first_day <= b and other.chunk.last_day >= a:
            return other
    return None


def _carve(
    lo: int, hi: int, intervals: list[tuple[int, int, ChunkRecord]]
) -> Iterator[tuple[int, int, ChunkRecord | None]]:
    """`lo..hi` as consecutive pieces, each inside one interval (earliest first wins where
    they overlap) or in none."""
    at = lo
    for start, end, item in sorted(intervals, key=lambda i: (i[0], i[1])):
        a, b = max(start, at), min(end, hi)
        if b < a:
            continue
        if a > at:
            yield at, a - 1, None
        yield a, b, item
        at = b + 1
        if at > hi:
            return
    if at <= hi:
        yield at, hi, None


def _segment(a: int, b: int, state: DayState, record: ChunkRecord | None) -> Segment:
    return Segment(date.fromordinal(a), date.fromordinal(b), state, record)
