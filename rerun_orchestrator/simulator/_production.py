"""Scheduled production runs of the jobs configured with ``production: true``.

SchedulerX fires a cron job at each of its fire times; with ``MaxConcurrency`` instances
still active (waiting or running, reruns included) it **skips** that run. The simulator
does the same, lazily: before any request is handled or any record is read, every fire
time since the last look is played in time order, creating a scheduled instance
(TriggerType 1) or recording the skip (``GET /_simulator/skipped``), so a test can count
the production runs a backfill made SchedulerX skip.
"""

from __future__ import annotations

from datetime import datetime

from .._quartz import QuartzCron
from ._config import JobSpec
from ._state import SimState


class ProductionRuns:
    """Plays the cron fire times of production jobs up to a moment (epoch ms)."""

    def __init__(self, state: SimState, since_ms: int) -> None:
        self._state = state
        self._crons = [
            (spec, QuartzCron(spec.time_expression))
            for spec in state.config.jobs
            if spec.production
        ]
        self._last_ms = since_ms

    def advance(self, now_ms: int) -> None:
        """Fire (or skip) every scheduled run due in ``(last, now]``, oldest first."""
        if not self._crons or now_ms <= self._last_ms:
            self._last_ms = max(self._last_ms, now_ms)
            return
        zone = self._state.zone
        after = datetime.fromtimestamp(self._last_ms / 1000, tz=zone)
        until = datetime.fromtimestamp(now_ms / 1000, tz=zone)
        due: list[tuple[int, int, JobSpec]] = []
        for spec, cron in self._crons:
            fires = [round(t.timestamp() * 1000) for t in cron.fire_times(after, until)]
            for first, last in spec.job_ids:
                due.extend(
                    (fire, job_id, spec) for job_id in range(first, last + 1) for fire in fires
                )
        due.sort(key=lambda item: (item[0], item[1]))
        for fire_ms, job_id, spec in due:
            job = self._state.job(spec.region, job_id)
            if job is not None:
                self._state.fire(job, fire_ms)
        self._last_ms = now_ms

    def restart(self, now_ms: int) -> None:
        """Fire nothing before `now_ms` (after a reset)."""
        self._last_ms = now_ms
