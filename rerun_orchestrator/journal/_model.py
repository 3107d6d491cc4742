"""Journal values: a chunk's durable state and what reconciliation concluded.

The journal is the source of truth for "was this day rerun?". Its records are chunks, i.e.
spans of consecutive days of one job; a day is *covered* when a record that contains it is
in flight, unknown or succeeded (`COVERING`), whichever plan or chunking wrote it. A chunk
moves pending → in_flight → succeeded | failed | unknown, and back to in_flight only when
it is safe to resend (retryable result, reconciliation proved absence, or --retry-failed).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

from ..plan._model import Chunk


class ChunkStatus(enum.StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"  # durably marked before the request is written
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # permanently refused; resent only with --retry-failed
    UNKNOWN = "unknown"  # may or may not have been applied; never resent automatically


# A record in one of these states covers its days: none of them may be sent again.
COVERING = frozenset({ChunkStatus.IN_FLIGHT, ChunkStatus.UNKNOWN, ChunkStatus.SUCCEEDED})


class JobIdentity(NamedTuple):
    """SchedulerX's identity of a job: a day of the ledger is one of these plus a date."""

    region: str
    namespace: str
    namespace_source: str | None
    group_id: str
    job_id: int

    @classmethod
    def of(cls, chunk: Chunk) -> JobIdentity:
        return cls(
            chunk.region, chunk.namespace, chunk.namespace_source, chunk.group_id, chunk.job_id
        )


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """A chunk as the journal holds it."""

    chunk: Chunk
    status: ChunkStatus
    attempts: int = 0  # over every run of this journal
    request_id: str | None = None  # of the last attempt that got one
    code: str | int | None = None  # as the server sent it
    message: str | None = None
    reason: str | None = None  # why unknown / why failed, in words
    instance_ids: tuple[int, ...] = ()  # found by reconciliation
    attempt_started_at: float | None = None  # wall seconds when the last sent attempt began
    updated_at: float | None = None
    plan: str | None = None  # the plan that wrote it (None: unknown, e.g. migrated)
    timezone: str | None = None  # the zone its days were cut in (None: unknown)
    generation: int = 0  # 0, then +1 for each deliberate rerun (--rerun-succeeded)

    @property
    def key(self) -> str:
        return self.chunk.key

    @property
    def covers(self) -> bool:
        """Whether this record's days must never be sent again (in its generation)."""
        return self.status in COVERING


class ReconcileOutcome(enum.Enum):
    FOUND = "found"  # the rerun happened: succeeded, with its instance ids
    ABSENT = "absent"  # clearly not applied: safe to resend
    UNDECIDABLE = "undecidable"  # cannot tell: unknown, never resent automatically


@dataclass(frozen=True, slots=True)
class Reconciliation:
    outcome: ReconcileOutcome
    reason: str
    instance_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class JournalMeta:
    """What a journal says about itself: which plan, since when, which schema."""

    plan_name: str
    plan_digest: str  # of the plan as last run; an edited plan updates it
    created_at: float  # wall seconds
    schema_version: int
    previous_digest: str | None = None  # the digest before the last edit, if the plan changed


@dataclass(frozen=True, slots=True)
class PlanEntry:
    """A plan as a journal remembers it: several plans may share one journal."""

    name: str
    digest: str
    timezone: str | None
    job_days: int = 0  # the (job, day) pairs it plans
    chunks: int = 0  # its chunks on an empty journal
    rerun_generation: int = 0  # the generation its --rerun-succeeded runs aim at
    # (region, namespace, namespace_source, group) of its targets, as spelled
    locations: tuple[tuple[str, str, str | None, str], ...] = ()


@dataclass(frozen=True, slots=True)
class JobFactsEntry:
    """What the pre-flight learnt about a good job (GetJobInfo, ListGroups), and when.

    Kept so that a resumed run asks only jobs it has not checked (or checked too long
    ago), and so that what reads a job's ``MaxConcurrency`` (the capacity gate, `watch`)
    finds it in the journal.
    """

    job: JobIdentity
    name: str
    enabled: bool
    max_concurrency: int
    time_type: int | None  # TimeConfig: 1 cron, 3 fix_rate, 4 second_delay, 100 api
    expression: str | None
    calendar: str | None
    data_offset: int | None
    professional: bool | None  # the group's edition; None: it could not be read
    checked_at: float  # wall seconds
