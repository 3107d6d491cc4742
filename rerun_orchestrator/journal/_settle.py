"""Settling a chunk by hand: the way out for an `unknown` a person has checked.

Reconciliation leaves a chunk `unknown` only when it cannot tell (partial days, a query
that kept failing). A person who looked at the job's instances in the console can then
say what happened. The rules keep the journal's promise: only a doubtful or refused chunk
can be settled, only as `succeeded` (its days are there) or `pending` (they are not: the
next run sends it), and the reason is kept for the audit trail.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._errors import InvalidTransitionError, JournalError
from ._model import ChunkRecord, ChunkStatus
from ._store import Journal

SETTLEABLE = frozenset({ChunkStatus.UNKNOWN, ChunkStatus.IN_FLIGHT, ChunkStatus.FAILED})
SETTLED_AS = frozenset({ChunkStatus.SUCCEEDED, ChunkStatus.PENDING})


def settle_by_hand(
    journal: Journal, keys: Sequence[str], status: ChunkStatus, reason: str
) -> list[ChunkRecord]:
    """Record a person's verdict on the chunks `keys`; returns their new records.

    All or nothing: every key is checked before any is changed. Call it on a journal opened
    with the run lock held (`SqliteJournal.open_existing`), so that no run has one of the
    chunks in flight meanwhile.

    Raises:
        JournalError: a key is not in the journal.
        InvalidTransitionError: a chunk is not unknown, in flight or failed, `status` is
            not succeeded or pending, or `reason` is empty.
    """
    if status not in SETTLED_AS:
        raise InvalidTransitionError(
            f"a chunk can be settled as succeeded or pending, not {status}"
        )
    if not reason.strip():
        raise InvalidTransitionError("say why (--reason): the journal keeps it for the audit trail")
    records = [_settleable(journal, key) for key in keys]
    settled = [
        journal.record_outcome(
            record.key,
            status,
            code=record.code,
            message=record.message,
            reason=f"settled by hand as {status} (was {record.status}): {reason.strip()}",
        )
        for record in records
    ]
    journal.flush()
    return settled


def _settleable(journal: Journal, key: str) -> ChunkRecord:
    record = journal.get(key)
    if record is None:
        raise JournalError(f"no chunk {key!r} in this journal (see `status` for the keys)")
    if record.status not in SETTLEABLE:
        raise InvalidTransitionError(
            f"chunk {key} is {record.status}; only unknown, in-flight or failed chunks are "
            "settled by hand"
        )
    return record
