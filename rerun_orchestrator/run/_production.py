"""Production first: no rerun may still be running when its job's next scheduled run fires.

SchedulerX skips a scheduled run that comes due while a job with `MaxConcurrency` 1 is
busy, a rerun included, and says nothing. `ProductionGate` knows each such job's next fire
time (its Quartz cron from pre-flight's GetJobInfo, `_quartz.QuartzCron`) and how long one
of its instances takes (`Durations`: learnt from the watcher's ended reruns; 10 minutes
before any is known). A chunk is admitted with the days that end, one after another, at
least `margin` (at most a quarter of a duration) before the next fire time, counting this
backfill's instances of the job still active; if not even one day fits, it waits until
the scheduled run has fired and is expected to have finished, then looks again. A job
that fires more often than the default guess allows gets one day just after a fire time,
to learn its duration.

It stands before the capacity gate (which may cut the chunk further) and checks again once
every gate has been passed (`still_admits`), as capacity may have been awaited meanwhile.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .._clock import Clock
from .._quartz import QuartzCron
from ._admission import Ticket
from ._streams import JobKey

#: The expected duration of one instance before any rerun of the job has been seen to end.
DEFAULT_INSTANCE_SECONDS = 600.0
#: How many recent durations the estimate keeps per job (their largest is used: a guess
#: that errs long costs a little speed, one that errs short costs a production run).
RECENT = 5
#: A waiting chunk looks again at least this often (durations are learnt meanwhile).
RECHECK_SECONDS = 10.0
#: The margin kept before a fire time is at most this share of an instance's duration.
MARGIN_SHARE = 0.25


class Durations:
    """Recent rerun durations per job; the watcher calls `record` as instances end."""

    def __init__(self, default: float = DEFAULT_INSTANCE_SECONDS) -> None:
        self._default = default
        self._recent: dict[JobKey, deque[float]] = {}

    def record(self, job: JobKey, seconds: float, *, resolution: float = 0.0) -> None:
        """One ended instance of `job` ran `seconds`, measured to within `resolution` (the
        server's times are whole seconds: it is added, as a guess errs long)."""
        if seconds >= 0 and math.isfinite(seconds):
            self._recent.setdefault(job, deque(maxlen=RECENT)).append(seconds + resolution)

    def known(self, job: JobKey) -> bool:
        return bool(self._recent.get(job))

    def expected(self, job: JobKey) -> float:
        recent = self._recent.get(job)
        return max(recent) if recent else self._default


class ProductionGate:
    """Admits the days of a chunk that end before the job's next scheduled run (a `Gate`).

    Args:
        schedule: the cron of a job whose scheduled runs a busy job would skip
            (`MaxConcurrency` 1 and a TimeType-1 cron), else None (the gate lets it by).
        active: this backfill's instances of a job waiting or running now
            (`InstanceGate.active`).
        durations: expected instance durations.
        zone: the server's timezone, in which the cron fires.
        margin: seconds kept free before a fire time.
    """

    def __init__(
        self,
        schedule: Callable[[JobKey], QuartzCron | None],
        active: Callable[[JobKey], int],
        durations: Durations,
        zone: ZoneInfo,
        clock: Clock,
        *,
        margin: float = 60.0,
    ) -> None:
        self._schedule = schedule
        self._active = active
        self._durations = durations
        self._zone = zone
        self._clock = clock
        self._margin = margin
        self.waits = 0  # times a chunk waited for a scheduled run (for tests and benches)
        self._probe_after: dict[JobKey, datetime] = {}  # probe once this has fired
        self._probes: set[JobKey] = set()  # jobs whose probe day was admitted

    def _fit(self, ticket: Ticket, others: int, *, checking: bool = False) -> tuple[int, float]:
        """(days that fit now, seconds to wait if none does)."""
        cron = self._schedule(ticket.job)
        if cron is None:
            return ticket.days, 0.0
        now = datetime.fromtimestamp(self._clock.wall(), self._zone)
        fire = cron.next_after(now - timedelta(microseconds=1))
        if fire is None:
            return ticket.days, 0.0
        until_fire = (fire - now).total_seconds()
        job = ticket.job
        each = self._durations.expected(job)  # the default guess until one is learnt
        room = until_fire - min(self._margin, MARGIN_SHARE * each)
        fits = math.floor(room / each) - others if each > 0 else ticket.days
        if fits >= 1:
            self._probes.discard(job)
            return min(ticket.days, fits), 0.0
        if not self._durations.known(job):
            # The job fires more often than the default guess allows: one day, sent just
            # after a scheduled run has fired (the widest gap there is), teaches the
            # watcher how long the job's instances take.
            if checking:
                return (ticket.days if job in self._probes else 0), 0.0
            after = self._probe_after.get(job)
            if others == 0 and after is not None and now >= after:
                del self._probe_after[job]
                self._probes.add(job)
                return 1, 0.0
            if after is None:
                self._probe_after[job] = fire
            return 0, min(until_fire + 0.001, RECHECK_SECONDS)
        # after the scheduled run has fired and (as expected) ended; looked at again now
        # and then, as what is learnt of the durations may change the answer
        return 0, min(max(until_fire + each, 0.001), RECHECK_SECONDS)

    def try_start(self, ticket: Ticket) -> Ticket | None:
        days, _ = self._fit(ticket, self._active(ticket.job))
        return Ticket(ticket.job, days) if days else None

    async def start(self, ticket: Ticket) -> Ticket:
        while True:
            days, wait = self._fit(ticket, self._active(ticket.job))
            if days:
                return Ticket(ticket.job, days)
            self.waits += 1
            await self._clock.sleep(wait)

    def finished(self, ticket: Ticket) -> None:
        pass

    def still_admits(self, ticket: Ticket) -> bool:
        # the capacity gate has counted this ticket's days as active by now
        others = max(self._active(ticket.job) - ticket.days, 0)
        days, _ = self._fit(ticket, others, checking=True)
        return days >= ticket.days


__all__ = ["DEFAULT_INSTANCE_SECONDS", "Durations", "ProductionGate"]
