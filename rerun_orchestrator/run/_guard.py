"""The server's record as a guard against a lost journal: before sending days the journal
has never seen, ask GetJobInstanceList whether they were already rerun.

A journal deleted, replaced, torn, left behind on another machine or started afresh does
not know what was sent; the server does, for a while. So for each job, before its first
chunk goes out, the days that no record holds (never tried, by any plan of this journal)
are looked up: rerun instances (TriggerType 2) whose data day is one of them and which
were scheduled within `lookback`. Days found are recorded as succeeded ("found on the
server", with the instance ids) and not sent. Per job, in the worker that sends the job:
sending starts as soon as a job is checked, and the reads spend GetJobInstanceList's own
quota (the `InstanceFinder`'s pacer: the reconciler's).

Which time the listing's window filters on is undocumented, so a job is asked in both
readings: two reads per job, which set the pace of a plan of many short jobs (the read
quota equals RerunJob's). Once the run's watcher has learned the server's reading (from our
own reruns: found in one window and not in the other), the guard asks only that one.

What it cannot see: reruns older than `lookback`; instances the server has pruned (it
keeps about the newest 300 per job, so a job with a busy schedule forgets within days);
and, by design, the scheduled (non-rerun) instances. If the read API does not answer,
the job's unseen days are not sent in this run (they stay pending; a later run asks
again): silence is never taken for absence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from .._clock import Clock, SystemClock
from .._logs import get_logger
from ..journal._model import ChunkStatus, JobIdentity
from ..journal._store import Journal
from ..journal._view import JobView, make_chunk
from ..plan._model import Chunk
from ..schedulerx._errors import ApiCallError
from ._finder import InstanceSource, time_windows
from ._jobs import Screened
from ._judge import RERUN_TRIGGER_TYPES, data_day, server_time_to_epoch
from ._offloop import journal_write

_log = get_logger("rerun_orchestrator.run")

DEFAULT_LOOKBACK_SECONDS = 7 * 86_400
_SKEW_SECONDS = 300.0


@dataclass(slots=True)
class ServerGuard:
    """The `DayGuard` of a run: one per run, shared by every worker."""

    finder: InstanceSource
    journal: Journal
    plan_name: str
    timezone: str
    lookback_seconds: float = DEFAULT_LOOKBACK_SECONDS
    clock: Clock = field(default_factory=SystemClock)
    # the server's reading of the time filter once the watcher has learned it, else None
    reading: Callable[[], str | None] | None = None
    found_days: int = 0  # recorded as done from the server's record in this run
    unanswered_jobs: int = 0  # jobs whose unseen days were held back (no answer)
    _checked: set[JobIdentity] = field(default_factory=set)

    @property
    def since(self) -> datetime:
        """The earliest schedule time the guard looks at."""
        wall = self.clock.wall() - self.lookback_seconds
        return datetime.fromtimestamp(wall, ZoneInfo(self.timezone))

    async def screen(self, view: JobView, chunks: list[Chunk]) -> Screened:
        job = view.job.identity
        if job in self._checked:
            return Screened.SEND
        self._checked.add(job)
        unseen = _unseen_days(view, chunks)
        if not unseen:
            return Screened.SEND
        zone = ZoneInfo(self.timezone)
        first, last = min(unseen), max(unseen)
        now = self.clock.wall()
        probe = chunks[0]
        windows = time_windows(
            now - self.lookback_seconds, now, first, last, zone, skew=_SKEW_SECONDS
        )
        found: dict[date, set[int]] = defaultdict(set)
        earliest = now - self.lookback_seconds
        learned = self.reading() if self.reading is not None else None
        asked = [(learned, windows[learned])] if learned in windows else list(windows.items())
        for reading, (low, high) in asked:
            try:
                instances = await self.finder.list_instances(
                    probe, low, high, reading=f"guard:{reading}"
                )
            except ApiCallError as exc:  # refused for good: RerunJob will say why
                _log.warning(
                    "rerun.guard.refused",
                    job_id=job.job_id,
                    code=exc.result.code,
                    reason="GetJobInstanceList refused this job; its days are sent unchecked",
                )
                return Screened.SEND
            if instances is None:
                self.unanswered_jobs += 1
                _log.warning(
                    "rerun.guard.unanswered",
                    job_id=job.job_id,
                    days=len(unseen),
                    reason="GetJobInstanceList did not answer; these days are not sent in this run",
                )
                return Screened.HOLD
            for instance in instances:
                if (
                    instance.trigger_type not in RERUN_TRIGGER_TYPES
                    or instance.job_id != job.job_id
                ):
                    continue
                try:
                    day = data_day(instance.data_time)
                    scheduled = server_time_to_epoch(instance.schedule_time, zone)
                except ValueError:
                    continue
                if day in unseen and scheduled >= earliest:
                    found[day].add(instance.instance_id)
        if not found:
            return Screened.SEND
        await journal_write(self.journal, self._record, view, found, zone)
        return Screened.DERIVE_AGAIN

    def _record(self, view: JobView, found: dict[date, set[int]], zone: ZoneInfo) -> None:
        target, job_id = view.job.target, view.job.job_id
        for first, last in _runs(sorted(found)):
            for window in target.windows:
                a, b = max(first, window.start), min(last, window.end)
                if a > b:
                    continue
                chunk = make_chunk(target, job_id, a, b, zone)
                ids = sorted(
                    {i for n in range((b - a).days + 1) for i in found[a + timedelta(days=n)]}
                )
                self.journal.propose(chunk, plan=self.plan_name, timezone=self.timezone)
                self.journal.record_outcome(
                    chunk.key,
                    ChunkStatus.SUCCEEDED,
                    reason=f"found on the server: already rerun (looked at reruns since "
                    f"{self.since:%Y-%m-%d %H:%M}); not sent again",
                    instance_ids=ids,
                )
                self.found_days += chunk.days
                _log.info(
                    "rerun.guard.found",
                    chunk=chunk.key,
                    job_id=job_id,
                    days=chunk.days,
                    instance_ids=ids,
                )


def _unseen_days(view: JobView, chunks: list[Chunk]) -> set[date]:
    """Days of `chunks` that no record of the journal holds (tried or covered by anyone)."""
    seen: list[tuple[date, date]] = [
        (r.chunk.first_day, r.chunk.last_day)
        for r in view.records
        if r.attempts > 0 or r.status is not ChunkStatus.PENDING
    ]
    held = {n for a, b in seen for n in range(a.toordinal(), b.toordinal() + 1)}
    out: set[date] = set()
    for chunk in chunks:
        start = chunk.first_day.toordinal()
        out.update(date.fromordinal(n) for n in range(start, start + chunk.days) if n not in held)
    return out


def _runs(days: list[date]) -> list[tuple[date, date]]:
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and (day - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs
