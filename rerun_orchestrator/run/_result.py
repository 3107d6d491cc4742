"""What a run ends with: the plan's chunks by status, what this run did, and the exit code."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._exit_codes import ExitCode
from ..journal._model import ChunkRecord, ChunkStatus

if TYPE_CHECKING:
    pass


@dataclass(frozen=True, slots=True)
class StatusCounts:
    """The plan's chunks by the contract's four states (in flight reads as unknown)."""

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    unknown: int = 0
    pending: int = 0

    @classmethod
    def of(cls, records: Iterable[ChunkRecord]) -> StatusCounts:
        stats = RunStats()
        for record in records:
            stats.by_status[record.status] += 1
        return stats.counts()


@dataclass(slots=True)
class RunStats:
    """Live figures of a run, for progress displays: the plan's chunks by journal status
    (started from the journal, then moved as this run writes) and what this run sent."""

    by_status: dict[ChunkStatus, int] = field(default_factory=lambda: dict.fromkeys(ChunkStatus, 0))
    attempts: int = 0  # sent (a call cut off by a stop included)
    retries: int = 0
    throttled: int = 0
    reconciled: int = 0  # doubtful chunks settled by reconciliation (found or absent)
    undecided: int = 0  # doubtful chunks reconciliation could not settle (still unknown)
    on_wire: int = 0  # calls sent and not yet answered, now
    halted: str | None = None  # why the run stopped itself (a refusal every chunk would get)
    waiting: str | None = None  # why nothing is sent now (e.g. "waiting for the window ...")
    # chunks held back, not sent: another record of their days is in doubt (key -> its key)
    held: dict[str, str] = field(default_factory=dict)

    def moved(self, old: ChunkStatus, new: ChunkStatus) -> None:
        self.by_status[old] -= 1
        self.by_status[new] += 1

    def counts(self) -> StatusCounts:
        by = self.by_status
        return StatusCounts(
            total=sum(by.values()),
            succeeded=by[ChunkStatus.SUCCEEDED],
            failed=by[ChunkStatus.FAILED],
            unknown=by[ChunkStatus.UNKNOWN] + by[ChunkStatus.IN_FLIGHT],
            pending=by[ChunkStatus.PENDING],
        )


@dataclass(frozen=True, slots=True)
class RunResult:
    """The end of a run.

    `counts` covers every chunk of the plan as the journal holds it at the end, earlier
    runs included; the other figures count what this run did. `exit_code` is the
    contract's: 0 every chunk succeeded, 1 some failed or unknown (or, without a stop,
    left pending), 130 the run was stopped.
    """

    plan: str
    counts: StatusCounts
    attempts: int  # HTTP attempts sent by this run
    retries: int  # of which resends of a chunk already tried in this run
    throttled: int
    reconciled: int  # doubtful chunks settled by GetJobInstanceList (found or absent)
    stopped: bool
    elapsed_seconds: float
    halted: str | None = None  # the run stopped itself: why (exit 1, chunks left pending)
    days: StatusCounts | None = None  # the plan's (job, day) pairs by state
    covered_by: dict[str, int] = field(default_factory=dict)  # covered days per plan
    notes: tuple[str, ...] = ()  # what else the user must know (a location stopped, ...)
    undecided: int = 0  # doubtful chunks GetJobInstanceList could not settle
    # Accepted days by instance status, when the run watched them (None: not watched).
    instances: dict[str, int] | None = None
    # chunks this run held back, not sent (another record of their days is in doubt), and
    # a few of them with the record that holds each: (chunk, other record)
    held: int = 0
    held_by: tuple[tuple[str, str], ...] = ()

    @property
    def complete(self) -> bool:
        """Every chunk of the plan has succeeded."""
        return self.counts.succeeded == self.counts.total

    @property
    def exit_code(self) -> int:
        if self.stopped:
            return ExitCode.INTERRUPTED
        if self.complete and self.instances_succeeded:
            return ExitCode.OK
        return ExitCode.INCOMPLETE

    @property
    def instances_succeeded(self) -> bool:
        """Every accepted day's instance succeeded (True when not watched)."""
        if self.instances is None:
            return True
        return all(n == 0 for status, n in self.instances.items() if status != "success")

    def to_json(self) -> dict[str, Any]:
        c = self.counts
        return {
            "plan": self.plan,
            "total": c.total,
            "succeeded": c.succeeded,
            "failed": c.failed,
            "unknown": c.unknown,
            "pending": c.pending,
            "attempts": self.attempts,
            "retries": self.retries,
            "throttled": self.throttled,
            "reconciled": self.reconciled,
            "undecided": self.undecided,
            "stopped": self.stopped,
            "halted": self.halted,
            "notes": list(self.notes),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "exit_code": self.exit_code,
            "days": None if self.days is None else dataclasses.asdict(self.days),
            "covered_by": dict(self.covered_by),
            "instances": None if self.instances is None else dict(self.instances),
            "held": self.held,
            "held_by": [{"chunk": chunk, "by": by} for chunk, by in self.held_by],
        }
