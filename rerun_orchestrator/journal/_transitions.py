"""The chunk state machine as pure functions, shared by every journal implementation.

    pending ──mark_in_flight──▶ in_flight ──outcome──▶ succeeded | failed | unknown | pending
       ▲                                                            │        │          │
       └──────────── reconciliation proved absence ─────────────────┼────────┘          │
    failed ──mark_in_flight (only with --retry-failed)──▶ in_flight                     │
    unknown ──reconciliation──▶ succeeded | pending | unknown ◀──────────────────────────┘

Two rules carry the guarantees, and they are enforced here rather than trusted to callers:
a chunk in flight or unknown cannot be marked in flight again (that would be a blind resend),
and a succeeded chunk never leaves that state (that would invite a second rerun).
"""

from __future__ import annotations

from collections.abc import Iterable

from ._errors import InvalidTransitionError
from ._model import ChunkRecord, ChunkStatus

# A resend is safe only from these: pending means "certainly not applied"; failed means
# "refused by the server", resent only when the user asks with --retry-failed.
_SENDABLE = frozenset({ChunkStatus.PENDING, ChunkStatus.FAILED})


def begin_attempt(record: ChunkRecord, started_at: float, now: float) -> ChunkRecord:
    """The record once an attempt has begun: in flight, one more attempt.

    Raises:
        InvalidTransitionError: the chunk is in flight, unknown or succeeded, so sending it
            now could create a second instance for its days.
    """
    if record.status not in _SENDABLE:
        raise InvalidTransitionError(
            f"chunk {record.key} is {record.status}; only pending or failed chunks may be "
            "sent (an in-flight or unknown chunk must be reconciled first)"
        )
    # Every field by position (dataclasses.replace walks the fields on every call: two
    # transitions per call); `test_transitions` checks that each other field is kept.
    return ChunkRecord(
        record.chunk,
        ChunkStatus.IN_FLIGHT,
        record.attempts + 1,
        record.request_id,
        record.code,
        record.message,
        record.reason,
        record.instance_ids,
        started_at,
        now,
        record.plan,
        record.timezone,
        record.generation,
    )


def settle(
    record: ChunkRecord,
    status: ChunkStatus,
    now: float,
    *,
    request_id: str | None,
    code: str | int | None,
    message: str | None,
    reason: str | None,
    instance_ids: Iterable[int],
) -> ChunkRecord:
    """The record once an attempt's outcome (or a reconciliation's) is known.

    `request_id` None keeps the last one (the contract reports the last RequestId that
    was received); empty `instance_ids` keep those already found.

    Raises:
        InvalidTransitionError: `status` is in_flight (use `mark_in_flight`), or the chunk
            has succeeded and `status` would make it sendable or doubtful again.
    """
    if status is ChunkStatus.IN_FLIGHT:
        raise InvalidTransitionError("use mark_in_flight to begin an attempt")
    if record.status is ChunkStatus.SUCCEEDED and status is not ChunkStatus.SUCCEEDED:
        raise InvalidTransitionError(f"chunk {record.key} has succeeded; it cannot become {status}")
    ids = tuple(sorted(set(instance_ids)))
    return ChunkRecord(
        record.chunk,
        status,
        record.attempts,
        request_id if request_id is not None else record.request_id,
        code,
        message,
        reason,
        ids or record.instance_ids,
        record.attempt_started_at,
        now,
        record.plan,
        record.timezone,
        record.generation,
    )
