"""A doubtful chunk: one whose last attempt may have applied. It is asked about, never resent.

Which records are doubtful, the question (a `ChunkReconciler`; its failures are results:
the chunk stays doubtful), and the journal state each answer leads to (`ON_RECONCILIATION`).
"""

from __future__ import annotations

from typing import Protocol

from ..journal._model import ChunkRecord, ChunkStatus, ReconcileOutcome, Reconciliation
from ..schedulerx._classify import is_explicit_refusal
from ._policy import ON_RECONCILIATION, Action
from ._stop import StopSignal

_STATUS_AFTER = {
    Action.SUCCEED: ChunkStatus.SUCCEEDED,
    Action.BACKOFF: ChunkStatus.PENDING,
    Action.GIVE_UP: ChunkStatus.UNKNOWN,
}


class ChunkReconciler(Protocol):
    """What the executor needs to settle a doubtful chunk (`run.Reconciler` has it)."""

    async def reconcile(self, record: ChunkRecord) -> Reconciliation: ...


def is_doubtful(record: ChunkRecord, *, retry_failed: bool) -> bool:
    """Whether an earlier attempt of `record` may have applied (ask before sending)."""
    if record.status in (ChunkStatus.IN_FLIGHT, ChunkStatus.UNKNOWN):
        return True
    # --retry-failed: a failure that could have followed an applied call (an answer that
    # was not the server's refusal) is reconciled before it is resent.
    return (
        record.status is ChunkStatus.FAILED
        and retry_failed
        and record.attempt_started_at is not None
        and not is_explicit_refusal(record.code)
    )


async def ask(
    reconciler: ChunkReconciler | None, record: ChunkRecord, stop: StopSignal
) -> Reconciliation:
    """The reconciler's verdict on `record`; UNDECIDABLE without one or if it fails.

    Raises:
        StoppedError: a stop cut the wait short (the chunk stays doubtful).
    """
    if reconciler is None:
        return Reconciliation(
            ReconcileOutcome.UNDECIDABLE,
            "the outcome is unknown and no reconciler was given to check it",
        )
    with stop.waiting():
        try:
            verdict = await reconciler.reconcile(record)
        except Exception as exc:  # failures are results; the chunk stays doubtful
            verdict = Reconciliation(
                ReconcileOutcome.UNDECIDABLE,
                f"reconciliation failed ({type(exc).__name__}: {exc})",
            )
    return verdict


def status_after(verdict: Reconciliation) -> ChunkStatus:
    """The journal state a verdict leads to (by the policy table)."""
    return _STATUS_AFTER[ON_RECONCILIATION[verdict.outcome]]
