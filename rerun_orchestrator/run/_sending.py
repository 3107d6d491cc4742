"""One job's chunks on their way through its lanes: what is left, how it ended, and the
cut of a chunk to the days a capacity gate admitted."""

from __future__ import annotations

import datetime
import enum
from collections import deque
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from .._logs import get_logger
from ..journal._view import JobPlan, make_chunk
from ..plan._model import Chunk
from ._separation import Hold

_log = get_logger("rerun_orchestrator.run")
_DAY = datetime.timedelta(days=1)


class Outcome(enum.Enum):
    DONE = "done"
    STOPPED = "stopped"
    CONFLICT = "conflict"
    LOST = "lease lost"  # another replica took the job over
    PARKED = "parked"  # a chunk waits out another record's separation, holding nothing


@dataclass(slots=True)
class Sending:
    """One job's chunks on their way, shared by its lanes."""

    pending: deque[Chunk]
    held_back: dict[str, str]  # the run's: chunk key -> the record in doubt that held it
    outcome: Outcome = field(default_factory=lambda: Outcome.DONE)
    until: float | None = None  # once parked: when the job may go again

    def held(self, chunk_key: str, hold: Hold) -> bool:
        """A chunk held back: True if the lane goes on (another record of its days is in
        doubt: it stays pending), False if the job parks (it waits out a separation)."""
        if hold.until is None:
            _log.warning("rerun.chunk.held", chunk=chunk_key, by=hold.by, reason=hold.reason)
            self.held_back[chunk_key] = hold.by or "?"
            return True
        _log.info("rerun.chunk.separated", chunk=chunk_key, by=hold.by, reason=hold.reason)
        self.until = hold.until if self.until is None else min(self.until, hold.until)
        if self.outcome is Outcome.DONE:
            self.outcome = Outcome.PARKED
        return False


def cut_admitted(
    job: JobPlan,
    planned: Chunk,
    days: int,
    pending: deque[Chunk],
    *,
    newest_first: bool,
    zone: ZoneInfo,
) -> Chunk:
    """`planned` cut to the `days` a capacity gate admitted; the rest goes back first."""
    if days >= planned.days:
        return planned
    step = datetime.timedelta(days=days)
    if newest_first:
        head = make_chunk(
            job.target, job.job_id, planned.last_day - step + _DAY, planned.last_day, zone
        )
        rest = make_chunk(job.target, job.job_id, planned.first_day, head.first_day - _DAY, zone)
    else:
        head = make_chunk(
            job.target, job.job_id, planned.first_day, planned.first_day + step - _DAY, zone
        )
        rest = make_chunk(job.target, job.job_id, head.last_day + _DAY, planned.last_day, zone)
    pending.appendleft(rest)
    return head
