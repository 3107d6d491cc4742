"""What a chunk's progress tells the rest of the run: events, live figures, stall, breaker.

One place turns each step of a chunk into its events (`rerun.attempt` lines, a chunk
settled, a reconciliation, a location stopped, retries paused) and the bookkeeping that
follows from them (the live `RunStats`, the stall limit's last progress, the location
breaker's strikes), so that `ChunkRunner` only decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..journal._model import ChunkRecord, ChunkStatus, ReconcileOutcome, Reconciliation
from ..plan._model import Chunk
from ..schedulerx._wire import AttemptResult, Verdict
from ._breaker import LocationBreaker
from ._events import (
    AttemptFinished,
    ChunkFinished,
    ChunkReconciled,
    EventSink,
    LocationStopped,
    RetryGateOpened,
)
from ._policy import Action, attempt_outcome
from ._result import RunStats
from ._stall import StallWatch


@dataclass(slots=True)
class ChunkReporter:
    events: EventSink
    stats: RunStats
    stall: StallWatch
    locations: LocationBreaker

    def attempt(
        self, record: ChunkRecord, result: AttemptResult, action: Action, *, granted: bool
    ) -> None:
        """The contract's ``rerun.attempt`` line for one HTTP attempt."""
        self.events.emit_chunk(
            AttemptFinished,
            chunk=record.key,
            job_id=record.chunk.job_id,
            attempt=record.attempts,
            request_id=result.request_id,
            http_status=result.http_status,
            code=None if result.verdict is Verdict.SUCCEEDED else result.code,
            outcome=attempt_outcome(action, retry_granted=granted),
            elapsed_ms=result.elapsed_ms,
            reason=result.reason,
        )

    def finished(self, record: ChunkRecord) -> None:
        """A chunk settled (succeeded, failed or unknown): progress for the stall limit."""
        self.stall.progressed()
        if record.status is ChunkStatus.SUCCEEDED:
            self.locations.succeeded(record.chunk)
        self.events.emit_chunk(
            ChunkFinished,
            chunk=record.key,
            job_id=record.chunk.job_id,
            status=str(record.status),
            attempts=record.attempts,
            request_id=record.request_id,
            code=record.code,
            message=record.message,
            reason=record.reason,
            instance_ids=record.instance_ids,
        )

    def reconciled(self, chunk: Chunk, verdict: Reconciliation) -> None:
        if verdict.outcome is ReconcileOutcome.UNDECIDABLE:
            self.stats.undecided += 1
        else:
            self.stats.reconciled += 1  # only settled ones: "3 reconciled" means 3 settled
        self.events.emit(
            ChunkReconciled(
                chunk.key, chunk.job_id, verdict.outcome.value, verdict.reason, verdict.instance_ids
            )
        )

    def location_refused(self, chunk: Chunk, result: AttemptResult) -> None:
        """A refusal of the chunk's whole location; the event once the breaker opens."""
        stopped = self.locations.refused(chunk, result)
        if stopped is not None:
            self.events.emit(
                LocationStopped(
                    chunk.region,
                    chunk.namespace,
                    chunk.group_id,
                    result.code,
                    stopped.reason,
                    stopped.refused,
                )
            )

    def retries_paused(self, result: AttemptResult, openings: int) -> None:
        self.events.emit(RetryGateOpened(result.reason, openings))
