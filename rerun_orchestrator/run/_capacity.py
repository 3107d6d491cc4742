"""Capacity: how many of this backfill's rerun instances may be waiting or running at once.

RerunJob starts every day of a chunk at once, so the unit here is the instance (a day),
not the call. `InstanceGate` holds a count per job (`max_active_per_job`, ``auto`` = the
job's MaxConcurrency) and per application group (`max_active_per_group`). A chunk asks for
its days and is admitted with what is free (at least one day, never more than it asked):
the dispatcher cuts the chunk to that. Once the call has created instances the dispatcher
keeps the days past the chunk (`Pass.keep`) until the watcher sees the instances end and
calls `release` (from its own task); a call that created nothing gives them back at once.
`hold` names the record whose days are kept, so that the watcher can give back each day
once (`ended`); `adopt` counts instances of an earlier run (or another replica) that are
still active when a job is taken up.

Fair across jobs: waiters are served in arrival order, a job that has just been served
queues again behind the others, and while several jobs wait on one group a job is granted
at most its share of the group's free slots, so one long job cannot hold every slot.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import anyio

from ._admission import Ticket
from ._streams import JobKey

GroupKey = tuple[str, str, str]  # region, namespace, group_id


def group_of(job: JobKey) -> GroupKey:
    return (job.region, job.namespace, job.group_id)


@dataclass(slots=True)
class _Waiter:
    ticket: Ticket
    woken: anyio.Event = field(default_factory=anyio.Event)
    granted: int = 0


class InstanceGate:
    """Caps on active instances per job and per group; a `Gate` whose release comes later.

    Args:
        job_cap: the cap of a job (e.g. ``max_active_per_job``, or the job's MaxConcurrency
            from pre-flight when the plan says ``auto``); ≥ 1.
        group_cap: the cap of every group (the plan's ``max_active_per_group``), a
            function of the group, or None for none.
    """

    def __init__(
        self,
        job_cap: Callable[[JobKey], int],
        group_cap: int | Callable[[GroupKey], int | None] | None = None,
    ) -> None:
        self._job_cap = job_cap
        self._group_cap = group_cap if callable(group_cap) else (lambda group: group_cap)
        self._has_group_caps = group_cap is not None
        self._jobs: dict[JobKey, int] = {}
        self._groups: dict[GroupKey, int] = {}
        self._waiters: deque[_Waiter] = deque()
        self.peak_job: dict[JobKey, int] = {}
        self.peak_group: dict[GroupKey, int] = {}
        # days kept per record (chunk key), and the days of it already given back
        self._held: dict[str, tuple[JobKey, int]] = {}
        self._ended: set[tuple[str, date]] = set()
        self.on_hold: Callable[[], None] | None = None  # e.g. wake the watcher up

    @property
    def has_group_caps(self) -> bool:
        return self._has_group_caps

    def active(self, job: JobKey) -> int:
        return self._jobs.get(job, 0)

    def active_in_group(self, group: GroupKey) -> int:
        return self._groups.get(group, 0)

    # -- the Gate protocol ---------------------------------------------------------------

    def try_start(self, ticket: Ticket) -> Ticket | None:
        if self._waiters:
            return None  # first come, first served
        days = self._grantable(ticket, sharing=1)
        if days == 0:
            return None
        self._take(ticket.job, days)
        return Ticket(ticket.job, days)

    async def start(self, ticket: Ticket) -> Ticket:
        waiter = _Waiter(ticket)
        self._waiters.append(waiter)
        self._serve()
        try:
            await waiter.woken.wait()
        except BaseException:
            if waiter.granted:
                self.release(ticket.job, waiter.granted)
            else:
                self._waiters.remove(waiter)
                self._serve()
            raise
        return Ticket(ticket.job, waiter.granted)

    def finished(self, ticket: Ticket) -> None:
        """The days created no instance (or were never sent): give them back. Days whose
        instances exist are kept (`Pass.keep`) until the watcher calls `release`."""
        self.release(ticket.job, ticket.days)

    def still_admits(self, ticket: Ticket) -> bool:
        return True

    # -- releases --------------------------------------------------------------------------

    def release(self, job: JobKey, days: int) -> None:
        """`days` instances of `job` have ended (the watcher calls this, from any task)."""
        held = self._jobs.get(job, 0)
        if days <= 0 or held == 0:
            return
        days = min(days, held)
        if held == days:
            del self._jobs[job]
        else:
            self._jobs[job] = held - days
        group = group_of(job)
        left = self._groups[group] - days
        if left:
            self._groups[group] = left
        else:
            del self._groups[group]
        self._serve()

    def hold(self, chunk_key: str, job: JobKey, days: int) -> None:
        """`days` admitted days of `job` are kept by the record `chunk_key` (its call
        created instances): each is given back when the watcher sees it end (`ended`)."""
        _, held = self._held.get(chunk_key, (job, 0))
        self._held[chunk_key] = (job, held + days)
        if self.on_hold is not None:
            self.on_hold()

    def adopt(self, chunk_key: str, job: JobKey, days: int) -> None:
        """Count `days` active instances of a record this run did not admit (an earlier
        run's, another replica's), unless they are counted already."""
        if days <= 0 or chunk_key in self._held:
            return
        self._take(job, days)
        self._held[chunk_key] = (job, days)

    def retake(self, chunk_key: str, job: JobKey, day: date) -> None:
        """A day given back (say rejected) holds a slot again (retried in place): it was
        admitted through `start` and is kept by its record until it ends once more."""
        self._ended.discard((chunk_key, day))
        self.hold(chunk_key, job, 1)

    def awaited(self, job: JobKey) -> bool:
        """Whether a waiter would be served sooner if `job` gave a slot back."""
        group = group_of(job)
        return any(w.ticket.job == job or group_of(w.ticket.job) == group for w in self._waiters)

    def held_keys(self) -> list[str]:
        """The records whose days this gate keeps (each until its instances end)."""
        return list(self._held)

    def job_of(self, chunk_key: str) -> JobKey | None:
        """The job whose days the record `chunk_key` holds, if it holds any."""
        entry = self._held.get(chunk_key)
        return entry[0] if entry is not None else None

    def ended(self, chunk_key: str, day: date) -> bool:
        """The instance of `day` of the record `chunk_key` has ended: give its slot back
        (once); False if this gate held no slot for it."""
        entry = self._held.get(chunk_key)
        if entry is None or (chunk_key, day) in self._ended:
            return False
        job, held = entry
        self._ended.add((chunk_key, day))
        if held <= 1:
            del self._held[chunk_key]
        else:
            self._held[chunk_key] = (job, held - 1)
        self.release(job, 1)
        return True

    # -- inside ----------------------------------------------------------------------------

    def _grantable(self, ticket: Ticket, *, sharing: int) -> int:
        job = ticket.job
        free = self._job_cap(job) - self._jobs.get(job, 0)
        group = group_of(job)
        group_cap = self._group_cap(group)
        if group_cap is not None:
            group_free = group_cap - self._groups.get(group, 0)
            free = min(free, max(1, group_free // sharing) if group_free > 0 else 0)
        return max(0, min(ticket.days, free))

    def _take(self, job: JobKey, days: int) -> None:
        self._jobs[job] = count = self._jobs.get(job, 0) + days
        group = group_of(job)
        self._groups[group] = in_group = self._groups.get(group, 0) + days
        self.peak_job[job] = max(self.peak_job.get(job, 0), count)
        self.peak_group[group] = max(self.peak_group.get(group, 0), in_group)

    def _serve(self) -> None:
        """Grant waiters in arrival order; one whose job is full does not block the others."""
        if not self._waiters:
            return
        sharing: dict[GroupKey, int] = {}
        for waiter in self._waiters:
            group = group_of(waiter.ticket.job)
            sharing[group] = sharing.get(group, 0) + 1
        served: list[_Waiter] = []
        for waiter in self._waiters:
            group = group_of(waiter.ticket.job)
            days = self._grantable(waiter.ticket, sharing=sharing[group])
            sharing[group] -= 1
            if days:
                self._take(waiter.ticket.job, days)
                waiter.granted = days
                served.append(waiter)
        for waiter in served:
            self._waiters.remove(waiter)
            waiter.woken.set()

    def __repr__(self) -> str:
        return f"InstanceGate(active={sum(self._jobs.values())}, waiting={len(self._waiters)})"


__all__ = ["GroupKey", "InstanceGate", "group_of"]
