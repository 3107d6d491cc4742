"""Two attempts on one (job, day) are never closer than the clock skew, nor made while
another may still have applied: so the instances in an attempt's evidence window are its own.

Reconciliation judges a doubtful attempt by the rerun instances of its days scheduled since
the attempt began, less the clock skew the server's clock may be behind ours (5 minutes).
Another record of the same days (a deliberate rerun, `--rerun-succeeded`, a second
generation beside the first) would put its own instances in that window if it had been
sent within the skew, and they cannot be told apart: taken for this attempt's, a chunk
never sent is settled succeeded and its days silently not rerun; taken for the other's, an
applied attempt is resent and its days rerun twice.

So the evidence is kept clean at the source, before a chunk is sent:
- while another record of its days is in doubt, the chunk is held back: it stays pending
  for a later run, once that record is reconciled or settled. In doubt: in flight or
  unknown, or failed without the server's refusal (its attempt may have applied, and
  `--retry-failed` reconciles it before anything else, `_doubt.is_doubtful`). Its window
  has no end: it would take the instances of every attempt made on its days after it,
  however long after, for its own (a failed record that never applied, settled
  succeeded by another's instances: its days silently not rerun);
- within `separation` seconds of the last answer another record of its days got (one that
  applied: succeeded), the chunk waits until they have passed: that record's instances
  are then older than the window of this chunk's attempt. The separation allows for the
  server's clock being up to the skew behind ours (the window reaches back that far) *or
  ahead* of it (the other's instances stamped that much later), and for instances
  created up to `settle` seconds after the call: 2 x skew + settle + a margin (612 s by
  default). An answer recorded further ahead than that (a replica whose clock is wrong)
  is clock trouble: the chunk is held, not made to sleep for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from ..journal._model import ChunkRecord, ChunkStatus, JobIdentity
from ..journal._store import Journal
from ..plan._model import Chunk
from ._doubt import is_doubtful

DEFAULT_CLOCK_SKEW = 300.0  # how far the server's clock may be from ours (the reconciler's)
DEFAULT_SETTLE = 10.0  # how long after a call its instances are sure to exist
MARGIN = 2.0  # whole-second server times, and our clock's own steps
_DOUBTFUL = frozenset({ChunkStatus.IN_FLIGHT, ChunkStatus.UNKNOWN})


def separation_for(skew: float, settle: float) -> float:
    """The seconds between two records' attempts on one day that keep their instances apart."""
    return 2 * skew + settle + MARGIN


DEFAULT_SEPARATION = separation_for(DEFAULT_CLOCK_SKEW, DEFAULT_SETTLE)


@dataclass(frozen=True, slots=True)
class Hold:
    """Why a chunk may not be sent yet: until `until` (wall seconds), or, if None, until
    another record is settled (by a later run's reconciliation, or by hand)."""

    reason: str
    until: float | None = None
    by: str | None = None  # the other record's key


class HeldError(Exception):
    """A chunk found held as it was about to be sent: nothing was sent, it stays pending."""

    def __init__(self, key: str, hold: Hold) -> None:
        super().__init__(f"chunk {key} not sent: {hold.reason}")
        self.key = key
        self.hold = hold


def hold_of(journal: Journal, record: ChunkRecord, *, separation: float, now: float) -> Hold | None:
    """What keeps `record` from being sent now, or None (send it): one read of its days."""
    chunk = record.chunk
    others = journal.job_records(JobIdentity.of(chunk), chunk.first_day, chunk.last_day)
    return hold_among(others, record.key, chunk, separation=separation, now=now)


def may_hold(records: Iterable[ChunkRecord], *, separation: float, now: float) -> list[ChunkRecord]:
    """The records that could hold a chunk back from `now` on (in doubt, or answered
    within the separation): `hold_among` of any chunk gives the same verdict with these
    as with all of `records`, now and later (a record too old to hold stays so). Picked
    once per job view, so that a job of many records is not scanned once per chunk."""
    return [
        r
        for r in records
        if r.status in _DOUBTFUL
        or (r.status is ChunkStatus.SUCCEEDED and _answered(r) + separation > now)
        or (r.status is ChunkStatus.FAILED and is_doubtful(r, retry_failed=True))
    ]


def hold_among(
    records: Iterable[ChunkRecord], key: str, chunk: Chunk, *, separation: float, now: float
) -> Hold | None:
    """What keeps the record `key` of `chunk`'s days from being sent now, judged by
    `records` (any of the job's, e.g. a job view's: those off `chunk`'s days, and `key`'s
    own, are ignored), or None (send it)."""
    first, last = chunk.first_day, chunk.last_day
    others = [
        other
        for other in records
        if other.key != key and other.chunk.first_day <= last and other.chunk.last_day >= first
    ]
    for other in others:
        if other.status in _DOUBTFUL:
            return Hold(
                f"another record of these days ({other.key}, generation {other.generation}) "
                f"is {other.status}: its attempt may have applied; once it is reconciled (a "
                "run of its plan and generation: without --rerun-succeeded for generation 0) "
                "or settled (`rerun-orchestrator settle`), this chunk is sent",
                by=other.key,
            )
        if is_doubtful(other, retry_failed=True):
            return Hold(
                f"another record of these days ({other.key}, generation {other.generation}) "
                f"failed without the server's refusal ({other.code}): its attempt may have "
                "applied, and reconciling it would take this chunk's instances for its own; "
                "once it is reconciled (a run with --retry-failed reconciles it first) or "
                "settled (`rerun-orchestrator settle`), this chunk is sent",
                by=other.key,
            )
    recent = [
        o for o in others if o.status is ChunkStatus.SUCCEEDED and _answered(o) + separation > now
    ]
    if not recent:
        return None
    latest = max(recent, key=_answered)
    until = _answered(latest) + separation
    if _answered(latest) - now > separation:  # a little ahead is clocks being clocks: wait
        return Hold(
            f"another record of these days ({latest.key}) was answered "
            f"{timedelta(seconds=round(_answered(latest) - now))} in the future by this "
            "machine's clock: a replica's clock is wrong; this chunk is not sent until "
            "it is fixed",
            by=latest.key,
        )
    return Hold(
        f"another record of these days ({latest.key}) was answered "
        f"{timedelta(seconds=round(now - _answered(latest)))} ago: this chunk waits "
        f"{separation:g} s after it, so that reconciliation can tell their instances apart",
        until=until,
        by=latest.key,
    )


HELD_SHOWN = 5  # chunks named in the run's summary; the log has every one


def held_note(held: dict[str, str]) -> str | None:
    """The summary's line about the chunks a run held back (chunk key -> the key of the
    record in doubt that held it), or None if it held none."""
    if not held:
        return None
    shown = ", ".join(f"{chunk} (by {by})" for chunk, by in list(held.items())[:HELD_SHOWN])
    more = f" and {len(held) - HELD_SHOWN} more" if len(held) > HELD_SHOWN else ""
    return (
        f"{len(held)} chunk(s) held back, not sent: another record of their days is in "
        "doubt (in flight, unknown, or failed without the server's refusal) and its "
        "reconciliation would take their instances for its own; settle it (a run of its "
        "plan and generation reconciles it, with --retry-failed for a failed one; or "
        "`rerun-orchestrator settle KEY --as succeeded|pending` after checking the "
        f"console), then run again: {shown}{more} (rerun.chunk.held in the log)"
    )


def _answered(record: ChunkRecord) -> float:
    """When the server last answered for `record` (its instances are stamped no later)."""
    return max(record.updated_at or 0.0, record.attempt_started_at or 0.0)


__all__ = [
    "DEFAULT_CLOCK_SKEW",
    "DEFAULT_SEPARATION",
    "DEFAULT_SETTLE",
    "HELD_SHOWN",
    "MARGIN",
    "HeldError",
    "Hold",
    "held_note",
    "hold_among",
    "hold_of",
    "may_hold",
    "separation_for",
]
