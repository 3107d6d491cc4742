"""Job streams: the plan's chunks cut into per-job runs, each in the order it must be sent.

The plan yields a job's chunks of a target consecutively (its windows in turn, each by
date), so consecutive chunks of the same job form a *stream* that one worker sends one
after another: a job's instances queue behind each other on SchedulerX anyway, and the
days then land in order. Memory is one stream per worker, never the plan: a stream is a
job's days over one target, a few thousand chunks at the very most, while the plan may
hold a million.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from ..plan._model import Chunk, Order


class JobKey(NamedTuple):
    """Which job a chunk reruns: SchedulerX's identity of a job, for the per-job cap."""

    region: str
    namespace: str
    group_id: str
    job_id: int

    @classmethod
    def of(cls, chunk: Chunk) -> JobKey:
        return cls(chunk.region, chunk.namespace, chunk.group_id, chunk.job_id)


@dataclass(frozen=True, slots=True)
class JobStream:
    """Consecutive chunks of one job, in sending order."""

    job: JobKey
    chunks: tuple[Chunk, ...]


def job_streams(chunks: Iterable[Chunk], order: Order = "oldest_first") -> Iterator[JobStream]:
    """Group consecutive chunks of the same job; sort each group by date.

    `order` ``oldest_first`` sends a job's earliest days first, ``newest_first`` its latest
    (the plan's windows may be listed in any order; sorting makes either hold). A job
    listed in two targets makes two streams; the executor's per-job cap still keeps it to
    one call in flight.
    """
    current: JobKey | None = None
    group: list[Chunk] = []
    for chunk in chunks:
        job = JobKey.of(chunk)
        if job != current and group:
            assert current is not None
            yield _stream(current, group, order)
            group = []
        current = job
        group.append(chunk)
    if group:
        assert current is not None
        yield _stream(current, group, order)


def _stream(job: JobKey, chunks: list[Chunk], order: Order) -> JobStream:
    chunks.sort(key=lambda c: c.first_day, reverse=order == "newest_first")
    return JobStream(job, tuple(chunks))
