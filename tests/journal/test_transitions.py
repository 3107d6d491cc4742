"""The state machine's transitions build records field by field: each keeps every field it
does not change, as `dataclasses.replace` would (they skip it for speed)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from rerun_orchestrator.journal import ChunkStatus
from rerun_orchestrator.journal._errors import InvalidTransitionError
from rerun_orchestrator.journal._model import ChunkRecord
from rerun_orchestrator.journal._transitions import begin_attempt, settle

# A new field must be carried by begin_attempt and settle too: extend them, then this.
FIELDS = (
    "chunk",
    "status",
    "attempts",
    "request_id",
    "code",
    "message",
    "reason",
    "instance_ids",
    "attempt_started_at",
    "updated_at",
    "plan",
    "timezone",
    "generation",
)


def _record(chunk, status: ChunkStatus) -> ChunkRecord:
    """Every field set to a value no transition would make up."""
    return ChunkRecord(
        chunk(7, date(2024, 1, 2), 3),
        status,
        attempts=4,
        request_id="REQ-OLD",
        code="Code.Old",
        message="old message",
        reason="old reason",
        instance_ids=(11, 12),
        attempt_started_at=1.5,
        updated_at=2.5,
        plan="plan-a",
        timezone="Europe/Paris",
        generation=3,
    )


def test_the_transitions_know_every_field_of_a_record() -> None:
    assert tuple(f.name for f in dataclasses.fields(ChunkRecord)) == FIELDS


def test_begin_attempt_changes_status_attempts_and_times_only(chunk) -> None:
    before = _record(chunk, ChunkStatus.FAILED)
    after = begin_attempt(before, 10.0, 11.0)
    assert after == dataclasses.replace(
        before,
        status=ChunkStatus.IN_FLIGHT,
        attempts=5,
        attempt_started_at=10.0,
        updated_at=11.0,
    )


@pytest.mark.parametrize("status", [ChunkStatus.SUCCEEDED, ChunkStatus.PENDING])
def test_settle_changes_the_outcome_fields_only(chunk, status: ChunkStatus) -> None:
    before = _record(chunk, ChunkStatus.IN_FLIGHT)
    after = settle(
        before,
        status,
        20.0,
        request_id="REQ-NEW",
        code=None,
        message=None,
        reason="new reason",
        instance_ids=[31, 30, 31],
    )
    assert after == dataclasses.replace(
        before,
        status=status,
        request_id="REQ-NEW",
        code=None,
        message=None,
        reason="new reason",
        instance_ids=(30, 31),
        updated_at=20.0,
    )


def test_settle_keeps_the_last_request_id_and_instances_when_given_none(chunk) -> None:
    before = _record(chunk, ChunkStatus.UNKNOWN)
    after = settle(
        before,
        ChunkStatus.UNKNOWN,
        20.0,
        request_id=None,
        code="Timeout",
        message="m",
        reason="r",
        instance_ids=(),
    )
    assert (after.request_id, after.instance_ids) == ("REQ-OLD", (11, 12))
    assert (after.attempts, after.attempt_started_at, after.generation) == (4, 1.5, 3)


def test_a_succeeded_chunk_cannot_be_sent_or_undone(chunk) -> None:
    done = _record(chunk, ChunkStatus.SUCCEEDED)
    with pytest.raises(InvalidTransitionError):
        begin_attempt(done, 1.0, 1.0)
    with pytest.raises(InvalidTransitionError):
        settle(
            done,
            ChunkStatus.PENDING,
            1.0,
            request_id=None,
            code=None,
            message=None,
            reason=None,
            instance_ids=(),
        )
