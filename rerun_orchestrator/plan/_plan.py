"""A validated plan and its lazy expansion into chunks.

`Plan.chunks()` is a generator: it never holds more than one target's chunk boundaries (and
only when those are few), so a plan of millions of chunks expands in constant memory.
`Plan.count_chunks()` is arithmetic, so limits and progress totals cost nothing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from ._calendar import chunks_in_window, cut_window, day_count, local_midnight_ms
from ._model import Chunk, Execution
from ._neighbour import TargetExecution

JobRange = tuple[int, int]
# A target's chunk boundaries are shared by all its jobs, so they are computed once per
# target when there are few of them; past this many they are recomputed for each job, which
# keeps memory flat even for a single job over centuries of single-day chunks.
_SPAN_CACHE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Window:
    """Inclusive calendar dates in the plan's timezone."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return day_count(self.start, self.end)


@dataclass(frozen=True, slots=True)
class Target:
    """Jobs x windows at one location, with every default and override resolved."""

    region: str
    namespace: str
    namespace_source: str | None
    group_id: str
    data_time: str
    chunk_days: int
    jobs: tuple[JobRange, ...]  # inclusive (first, last) ranges, as listed; 123 is (123, 123)
    windows: tuple[Window, ...]
    execution: TargetExecution | None = None  # the target's own caps (good neighbour)

    def job_ids(self) -> Iterator[int]:
        """Job ids in plan order: as listed, each range ascending."""
        for first, last in self.jobs:
            yield from range(first, last + 1)

    @property
    def job_count(self) -> int:
        return sum(last - first + 1 for first, last in self.jobs)

    @property
    def chunks_per_job(self) -> int:
        return sum(chunks_in_window(w.start, w.end, self.chunk_days) for w in self.windows)

    @property
    def days_per_job(self) -> int:
        return sum(w.days for w in self.windows)

    @property
    def first_day(self) -> date:
        return min(w.start for w in self.windows)

    @property
    def last_day(self) -> date:
        return max(w.end for w in self.windows)

    def count_chunks(self) -> int:
        return self.job_count * self.chunks_per_job


@dataclass(frozen=True, slots=True)
class JobSet:
    """Every job of one target and the days it spans: what a simulator must know about."""

    region: str
    namespace: str
    namespace_source: str | None
    group_id: str
    job_ranges: tuple[JobRange, ...]
    first_day: date
    last_day: date


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """A validated plan: immutable, hashable, and cheap to hold whatever its size.

    `digest` is the sha256 of what the plan sends (name, timezone and every resolved target),
    so the same plan has the same digest whatever its formatting, comments, key order or
    `execution` settings; it is computed when not given.
    """

    name: str
    timezone: str
    version: int = 1
    targets: tuple[Target, ...]
    execution: Execution = field(default_factory=Execution)
    path: str | None = None
    digest: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.digest:
            object.__setattr__(self, "digest", _digest(self))

    def chunks(self) -> Iterator[Chunk]:
        """Every RerunJob call of the plan, lazily, in the contract's plan order.

        Targets as listed, then jobs as listed with ranges ascending, then windows as listed,
        then chunks by date.
        """
        zone = ZoneInfo(self.timezone)
        for target in self.targets:
            yield from _expand(target, zone)

    def count_chunks(self) -> int:
        """The number of chunks `chunks()` yields, computed without expanding."""
        return sum(t.count_chunks() for t in self.targets)

    def count_job_days(self) -> int:
        """The number of (job, day) instances the plan asks SchedulerX to create."""
        return sum(t.job_count * t.days_per_job for t in self.targets)

    def job_sets(self) -> Iterator[JobSet]:
        """One `JobSet` per target, in plan order, without expanding chunks."""
        for t in self.targets:
            yield JobSet(
                region=t.region,
                namespace=t.namespace,
                namespace_source=t.namespace_source,
                group_id=t.group_id,
                job_ranges=t.jobs,
                first_day=t.first_day,
                last_day=t.last_day,
            )

    def with_execution(self, **changes: Any) -> Plan:
        """A copy with some `Execution` fields replaced (the CLI's `--rate`, `--concurrency`).

        Raises:
            ValueError: a value `Execution` refuses (e.g. concurrency 0).
            TypeError: an unknown field name.
        """
        execution = dataclasses.replace(self.execution, **changes)
        return dataclasses.replace(self, execution=execution)


def _spans(target: Target, zone: ZoneInfo) -> Iterator[tuple[date, date, int, int, int]]:
    for window in target.windows:
        for first, last in cut_window(window.start, window.end, target.chunk_days):
            yield (
                first,
                last,
                local_midnight_ms(first, zone),
                local_midnight_ms(last, zone),
                (last - first).days + 1,
            )


def _expand(target: Target, zone: ZoneInfo) -> Iterator[Chunk]:
    import hashlib  # noqa: PLC0415 - `status` imports this module and hashes nothing

    cached = tuple(_spans(target, zone)) if target.chunks_per_job <= _SPAN_CACHE_LIMIT else None
    # Same bytes as `chunk_key`, hashed incrementally: the location prefix is hashed once
    # per target instead of once per chunk (a test keeps the two identical).
    source = target.namespace_source
    prefix = "\x1f".join(
        (
            target.region,
            target.namespace,
            "" if source is None else f"={source}",
            target.group_id,
            "",
        )
    )
    base = hashlib.sha256(prefix.encode())
    tail = f"\x1f{target.data_time}"
    for job_id in target.job_ids():
        job_hash = base.copy()
        job_hash.update(f"{job_id}\x1f".encode())
        for first, last, start_ms, end_ms, days in cached or _spans(target, zone):
            first_iso, last_iso = first.isoformat(), last.isoformat()
            h = job_hash.copy()
            h.update(f"{first_iso}\x1f{last_iso}{tail}".encode())
            yield Chunk(
                key=f"{job_id}:{first_iso}:{last_iso}:{h.hexdigest()[:16]}",
                region=target.region,
                namespace=target.namespace,
                namespace_source=source,
                group_id=target.group_id,
                job_id=job_id,
                first_day=first,
                last_day=last,
                start_date=start_ms,
                end_date=end_ms,
                data_time=target.data_time,
                days=days,
            )


def _digest(plan: Plan) -> str:
    import hashlib  # noqa: PLC0415 - `status` imports this module and hashes nothing

    content = {
        "version": plan.version,
        "name": plan.name,
        "timezone": plan.timezone,
        "targets": [
            {
                "region": t.region,
                "namespace": t.namespace,
                "namespace_source": t.namespace_source,
                "group": t.group_id,
                "data_time": t.data_time,
                "chunk_days": t.chunk_days,
                "jobs": [list(r) for r in t.jobs],
                "windows": [[w.start.isoformat(), w.end.isoformat()] for w in t.windows],
            }
            for t in plan.targets
        ],
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
