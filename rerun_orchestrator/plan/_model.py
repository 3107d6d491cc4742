"""The plan as immutable values: what a YAML plan means once it has been validated.

Everything downstream (executor, journal, report) consumes `Chunk`; nothing here does I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from .._limits import int_bounds_error, rate_bounds_error
from ._run_windows import RunWindows

ALWAYS_OPEN = RunWindows()

Order = Literal["oldest_first", "newest_first"]

DEFAULT_CHUNK_DAYS = 7  # here, not in _loader: `schema` prints it without loading YAML
DEFAULT_MAX_CHUNKS = 1_000_000


@dataclass(frozen=True, slots=True)
class Rate:
    """A call rate: `calls` per `period` seconds (``100/min`` is ``Rate(100, 60)``)."""

    calls: float
    period: float

    def __post_init__(self) -> None:
        # A zero or NaN rate would stall or divide by zero deep inside the executor.
        for what, value in (("calls", self.calls), ("period", self.period)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"a rate's {what} must be a positive number, not {value!r}")

    @property
    def per_second(self) -> float:
        return self.calls / self.period

    def __str__(self) -> str:
        unit = {1.0: "s", 60.0: "min", 3600.0: "h"}.get(self.period)
        calls = f"{self.calls:g}"
        return f"{calls}/{unit}" if unit else f"{calls}/{self.period:g}s"


@dataclass(frozen=True, slots=True)
class Execution:
    """How a plan is sent. Defaults are documented in the README and the JSON Schema."""

    # The documented quota, 100 RerunJob calls per minute per account: a lower default only
    # makes every run slower by construction (90/min took 1.11x the quota's time), and the
    # adaptive limiter already leaves the account's other callers whole (bench_quota.py).
    rate: Rate = Rate(100, 60)
    concurrency: int = 4
    max_attempts: int = 6
    order: Order = "oldest_first"
    # A job's reruns queue behind each other on the server (task concurrency defaults to 1).
    per_job_concurrency: int = 1
    # Plans larger than this are refused before anything is sent: a typo in a window or a
    # range ("1-100000") should not turn into months of calls.
    max_chunks: int = DEFAULT_MAX_CHUNKS
    # What the account may call RerunJob at: SchedulerX documents 100/min per account,
    # shared by every caller; raised quotas (Quota Center) are said here. A rate above it
    # cannot happen: `validate` warns and the ETA is counted at the quota.
    account_quota: Rate = Rate(100, 60)
    # Good neighbour (`_neighbour`): this backfill's active instances per job ("auto": the
    # job's MaxConcurrency, learnt by pre-flight) and per application group (None: no cap),
    # the read APIs' pace, and when RerunJob may be sent (`RunWindows`; none: always).
    max_active_per_job: int | Literal["auto"] = "auto"
    max_active_per_group: int | None = None
    read_rate: Rate = Rate(100, 60)
    windows: RunWindows = ALWAYS_OPEN

    def __post_init__(self) -> None:
        for name in ("concurrency", "max_attempts", "per_job_concurrency", "max_chunks"):
            value = getattr(self, name)
            integer = isinstance(value, int) and not isinstance(value, bool)
            problem = (
                int_bounds_error(name, value)
                if integer
                else f"{name} must be an integer, not {value!r}"
            )
            if problem is not None:
                raise ValueError(f"execution {problem}")
        for rate in (self.rate, self.account_quota):
            problem = rate_bounds_error(str(rate), rate.per_second)
            if problem is not None:
                raise ValueError(f"execution {problem}")
        if self.order not in ("oldest_first", "newest_first"):
            raise ValueError(
                f"execution order must be oldest_first or newest_first, not {self.order!r}"
            )

    @property
    def pace(self) -> tuple[Rate, str]:
        """The rate a run can keep, and why: the plan's rate, or the quota below it."""
        if self.rate.per_second > self.account_quota.per_second:
            return self.account_quota, "the account's quota"
        return self.rate, "the plan's rate"


def chunk_key(
    *,
    region: str,
    namespace: str,
    namespace_source: str | None,
    group_id: str,
    job_id: int,
    first_day: date,
    last_day: date,
    data_time: str,
) -> str:
    """The stable identity of a chunk: readable prefix, then a digest of every field.

    The same (region, namespace, namespace_source, group, job, first day, last day,
    data_time) always gives the same key, whatever the order of the plan.
    """
    fields = (
        region,
        namespace,
        "" if namespace_source is None else f"={namespace_source}",
        group_id,
        str(job_id),
        first_day.isoformat(),
        last_day.isoformat(),
        data_time,
    )
    import hashlib  # noqa: PLC0415 - `status` imports this module and hashes nothing

    digest = hashlib.sha256("\x1f".join(fields).encode()).hexdigest()[:16]
    return f"{job_id}:{first_day.isoformat()}:{last_day.isoformat()}:{digest}"


@dataclass(frozen=True, slots=True)
class Chunk:
    """One RerunJob call: a job over consecutive days, both ends inclusive."""

    key: str
    region: str
    namespace: str
    namespace_source: str | None
    group_id: str
    job_id: int
    first_day: date
    last_day: date
    start_date: int  # epoch ms of local midnight of first_day in the plan's timezone
    end_date: int  # epoch ms of local midnight of last_day
    data_time: str  # HH:MM:SS
    days: int

    def to_json(self) -> dict[str, Any]:
        """The contract's `plan --format jsonl` object, keys in contract order."""
        return {
            "key": self.key,
            "region": self.region,
            "namespace": self.namespace,
            "namespace_source": self.namespace_source,
            "group_id": self.group_id,
            "job_id": self.job_id,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "data_time": self.data_time,
            "days": self.days,
        }
