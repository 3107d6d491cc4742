"""Reconciliation's pure core: did a rerun of this chunk happen, judging by the instances?

RerunJob returns no instance ids, so after an ambiguous attempt (a crash mid-call, a read
timeout, a reset after the request was written, a 500) the only evidence is the job's
instance list. A rerun creates one instance per day of the chunk, each with TriggerType 2
("data rebrush"), a DataTime on that day, and a ScheduleTime of the moment the server
took the call. So an instance is evidence for a day when its trigger type is a rerun's,
its data day is that day, and it was scheduled no earlier than the attempt began (less
the allowed clock skew: the server's clock, not ours, stamps it).

The verdict is all or nothing on purpose: every day found means applied; no day found
(after the server has had time to create them) means safe to resend; anything else, or
evidence we cannot read, is undecidable and left to a human, because resending would
duplicate the days found and not resending would skip the others.

Never resend on doubt: ABSENT needs positive evidence, a well-formed answer (the client
refuses a page without ``JobInstanceDetails`` or with rows lacking their trigger type or
times) in which nothing could be ours. A row on the chunk's days, scheduled since the
attempt began, whose trigger type is not a rerun's is exactly such a doubt (a server that
labels reruns differently): UNDECIDABLE, never ABSENT.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ..journal._model import ReconcileOutcome, Reconciliation
from ..plan._model import Chunk
from ..schedulerx._wire import JobInstance, TriggerType

RERUN_TRIGGER_TYPES: frozenset[int] = frozenset({int(TriggerType.RERUN)})
_SERVER_FORMAT = "%Y-%m-%d %H:%M:%S"
# Server times carry whole seconds; an attempt that began at :10.7 may be stamped :10.
_STRING_PRECISION = 1.0
_DAYS_NAMED = 5


def server_time_to_epoch(text: str, zone: ZoneInfo) -> float:
    """Epoch seconds of a server-local ``yyyy-MM-dd HH:mm:ss`` string. Raises ValueError."""
    local = datetime.strptime(text.strip()[:19], _SERVER_FORMAT).replace(tzinfo=zone)
    return local.timestamp()


def data_day(text: str) -> date:
    """The calendar day of a DataTime string (its date part, already server-local)."""
    return date.fromisoformat(text.strip()[:10])


def judge_instances(
    instances: Iterable[JobInstance],
    chunk: Chunk,
    attempt_started_at: float,
    *,
    timezone: str,
    skew: float,
    trigger_types: Collection[int] = RERUN_TRIGGER_TYPES,
) -> Reconciliation:
    """Decide from a job's instances whether the attempt begun at `attempt_started_at` applied.

    Args:
        instances: any of the job's instances, in any order, duplicates allowed.
        chunk: the chunk the attempt was for.
        attempt_started_at: wall seconds (epoch) when the attempt began.
        timezone: the server's (= the plan's) zone, in which its time strings are written.
        skew: seconds the server's clock may be behind ours.
        trigger_types: what a rerun's instances carry (2 on SchedulerX, by the docs).

    Returns:
        FOUND with the instance ids when every day has one; ABSENT when none has;
        UNDECIDABLE (with the ids found) when only some have, or when an instance that
        could be ours has a time we cannot read.
    """
    zone = ZoneInfo(timezone)
    earliest = attempt_started_at - skew - _STRING_PRECISION
    wanted = {chunk.first_day + timedelta(days=i) for i in range(_span(chunk))}
    found: dict[date, set[int]] = {}
    unreadable = suspect = 0
    for instance in instances:
        if instance.job_id != chunk.job_id:
            continue
        try:
            day = data_day(instance.data_time)
        except ValueError:
            unreadable += 1
            continue
        if day not in wanted:
            continue
        try:
            scheduled = server_time_to_epoch(instance.schedule_time, zone)
        except ValueError:
            unreadable += 1
            continue
        if scheduled < earliest:
            continue  # there before the attempt: the day's scheduled history, not ours
        if instance.trigger_type in trigger_types:
            found.setdefault(day, set()).add(instance.instance_id)
        else:
            suspect += 1

    ids = tuple(sorted({i for day_ids in found.values() for i in day_ids}))
    since = datetime.fromtimestamp(earliest, zone).strftime(_SERVER_FORMAT)
    if len(found) == len(wanted):
        doubled = sum(1 for day_ids in found.values() if len(day_ids) > 1)
        note = f"; {doubled} day(s) have more than one such instance" if doubled else ""
        return Reconciliation(
            ReconcileOutcome.FOUND,
            f"found {len(ids)} rerun instance(s) covering all {len(wanted)} day(s), "
            f"scheduled since {since}{note}",
            ids,
        )
    if not found and not unreadable and not suspect:
        return Reconciliation(
            ReconcileOutcome.ABSENT,
            f"no rerun instance for {_days(sorted(wanted))} scheduled since {since}",
        )
    if not found and suspect:
        return Reconciliation(
            ReconcileOutcome.UNDECIDABLE,
            f"{suspect} instance(s) on this chunk's days, scheduled since {since}, carry a "
            f"trigger type other than a rerun's ({sorted(trigger_types)}): they may be this "
            "rerun; check them in the console",
        )
    if not found:
        return Reconciliation(
            ReconcileOutcome.UNDECIDABLE,
            f"{unreadable} instance(s) with an unreadable DataTime or ScheduleTime "
            "may belong to this rerun; check them in the console",
        )
    missing = sorted(wanted - found.keys())
    return Reconciliation(
        ReconcileOutcome.UNDECIDABLE,
        f"rerun instances found for only {len(found)} of {len(wanted)} day(s) "
        f"(missing {_days(missing)}); the rerun may have been applied in part: "
        "check the console, then settle the chunk by hand",
        ids,
    )


def _span(chunk: Chunk) -> int:
    return (chunk.last_day - chunk.first_day).days + 1


def _days(days: list[date]) -> str:
    if not days:
        return "no day"
    named = ", ".join(d.isoformat() for d in days[:_DAYS_NAMED])
    more = f" and {len(days) - _DAYS_NAMED} more" if len(days) > _DAYS_NAMED else ""
    return f"{named}{more}"
