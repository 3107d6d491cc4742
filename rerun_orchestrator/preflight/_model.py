"""What a pre-flight asks about and what it learns: values only, no I/O.

`JobRef` names one job at its location; `JobFacts` is what GetJobInfo (and ListGroups) said
about a good job, which the run uses later (``MaxConcurrency`` for the capacity gate, the
schedule to keep production runs free); `JobProblem` is why a job cannot be rerun.
`PreflightCache` is the seam through which a journal keeps facts across runs.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..plan import Plan, job_positions_of_file
from ..plan._positions import Position


@dataclass(frozen=True, slots=True)
class JobRef:
    """A job at its location: what GetJobInfo is asked about."""

    region: str
    namespace: str
    namespace_source: str | None
    group_id: str
    job_id: int

    @property
    def namespace_key(self) -> tuple[str, str, str | None]:
        """What ListGroups is asked about: the job's namespace."""
        return (self.region, self.namespace, self.namespace_source)

    def sort_key(self) -> tuple[str, str, str, str, int]:
        """Plan-independent order (a missing namespace source sorts first)."""
        source = "" if self.namespace_source is None else "=" + self.namespace_source
        return (self.region, self.namespace, source, self.group_id, self.job_id)

    def where(self) -> str:
        """``region/namespace/group``, as messages show the location."""
        return f"{self.region}/{self.namespace}/{self.group_id}"

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "namespace": self.namespace,
            "namespace_source": self.namespace_source,
            "group_id": self.group_id,
            "job_id": self.job_id,
        }


@dataclass(frozen=True, slots=True)
class Schedule:
    """GetJobInfo's ``TimeConfig``: TimeType 1 cron (Quartz, with seconds), 3 fix_rate,
    4 second_delay, 100 api."""

    time_type: int | None
    expression: str | None
    calendar: str | None = None
    data_offset: int | None = None

    @property
    def kind(self) -> str:
        names = {1: "cron", 3: "fix_rate", 4: "second_delay", 100: "api"}
        return names.get(self.time_type or 0, "unknown")

    def to_json(self) -> dict[str, Any]:
        return {
            "time_type": self.time_type,
            "kind": self.kind,
            "expression": self.expression,
            "calendar": self.calendar,
            "data_offset": self.data_offset,
        }


@dataclass(frozen=True, slots=True)
class JobFacts:
    """What SchedulerX said about a job the run may rerun."""

    ref: JobRef
    name: str
    enabled: bool
    max_concurrency: int
    schedule: Schedule
    professional: bool | None  # None: the group's edition could not be read

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "enabled": self.enabled,
            "max_concurrency": self.max_concurrency,
            "schedule": self.schedule.to_json(),
            "professional": self.professional,
        }


class ProblemKind(enum.Enum):
    """Why a job cannot be rerun (or could not be checked)."""

    REGION_NOT_FOUND = "region_not_found"
    NAMESPACE_NOT_FOUND = "namespace_not_found"
    GROUP_NOT_FOUND = "group_not_found"
    JOB_NOT_FOUND = "job_not_found"
    OTHER_GROUP = "job_in_another_group"
    DISABLED = "disabled"
    BASIC_EDITION = "basic_edition"
    REFUSED = "refused"
    UNCHECKED = "unchecked"


@dataclass(frozen=True, slots=True)
class JobProblem:
    ref: JobRef
    kind: ProblemKind
    message: str


@dataclass
class PreflightReport:
    """Everything one pre-flight of a plan found; `ok` when a run may start.

    `fatal` is set when the check could not go on at all (the credentials were refused):
    then nothing about the jobs is known and the run must not start either.
    """

    jobs: int = 0
    facts: dict[JobRef, JobFacts] = field(default_factory=dict)
    problems: list[JobProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fatal: str | None = None
    calls: dict[str, int] = field(default_factory=dict)
    cached: int = 0

    @property
    def ok(self) -> bool:
        return self.fatal is None and not self.problems

    @property
    def bad_jobs(self) -> int:
        return len({p.ref for p in self.problems})


class PreflightCache(Protocol):
    """Facts kept from earlier checks (the run's journal): a known good job is not asked again.

    Only good jobs are remembered; a job that was wrong is asked again, since the user may
    have fixed it in the console since.
    """

    def known(self, ref: JobRef) -> JobFacts | None:
        """The facts recorded for `ref`, or None."""
        ...

    def remember(self, facts: JobFacts) -> None:
        """Record the facts of a good job."""
        ...


class MemoryCache:
    """A `PreflightCache` in a dict: `check` of several plans asks each job once."""

    def __init__(self) -> None:
        self._facts: dict[JobRef, JobFacts] = {}

    def known(self, ref: JobRef) -> JobFacts | None:
        return self._facts.get(ref)

    def remember(self, facts: JobFacts) -> None:
        self._facts[facts.ref] = facts


@dataclass(frozen=True, slots=True)
class JobEntry:
    """A job as the plan lists it: its location and where the plan file says so."""

    ref: JobRef
    positions: tuple[Position, ...]


def plan_jobs(plan: Plan) -> Iterator[JobEntry]:
    """Each distinct job of `plan` once, in plan order, with every position that lists it."""
    positions = job_positions_of_file(plan.path) if plan.path else {}
    found: dict[JobRef, list[Position]] = {}
    for target_index, target in enumerate(plan.targets):
        for entry_index, (first, last) in enumerate(target.jobs):
            where = positions.get((target_index, entry_index), (1, 1))
            for job_id in range(first, last + 1):
                ref = JobRef(
                    target.region,
                    target.namespace,
                    target.namespace_source,
                    target.group_id,
                    job_id,
                )
                spots = found.setdefault(ref, [])
                if where not in spots:
                    spots.append(where)
    for ref, spots in found.items():
        yield JobEntry(ref, tuple(spots))
