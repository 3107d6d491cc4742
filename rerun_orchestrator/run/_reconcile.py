"""The `Reconciler`: asks SchedulerX whether an ambiguous attempt applied, before any resend.

A thin async shell: the `InstanceFinder` gathers the evidence, `judge_instances` decides.

1. A record never sent (no `attempt_started_at`) is ABSENT at once: nothing to look for.
2. It waits until `settle_seconds` after the attempt began, so that "no instance" means
   "not applied" rather than "not created yet".
3. It lists the job's instances in both readings of the time filter (`time_windows`):
   around the attempt, and over the chunk's days.
4. A listing that could not be answered (throttled or failed past the finder's patience,
   a malformed page, too many instances) is UNDECIDABLE with the reason, never a guess.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Collection
from zoneinfo import ZoneInfo

from .._clock import Clock, SystemClock
from .._logs import get_logger
from ..journal._model import ChunkRecord, ReconcileOutcome, Reconciliation
from ..plan._model import Chunk
from ..schedulerx._wire import JobInstance
from ._finder import InstanceFinder, InstanceLister, UnansweredError, time_windows
from ._judge import RERUN_TRIGGER_TYPES, judge_instances
from ._separation import DEFAULT_CLOCK_SKEW, DEFAULT_SETTLE

_log = get_logger("rerun_orchestrator.journal")


class Reconciler:
    """Settles chunks whose last attempt may or may not have applied.

    Args:
        client: anything with `get_job_instance_list` (a `SchedulerXClient`).
        clock: wall time for the windows, and the sleeps (settle, retry backoff).
        timezone: the plan's zone, which must be the server's day cut: instance times
            are server-local strings.
        acquire: awaited before every GetJobInstanceList call (a rate limiter's acquire),
            so reconciliation respects that API's quota.
        settle_seconds: how long after an attempt began its instances are sure to exist.
        clock_skew_seconds: how far behind ours the server's clock may be.
        page_size: instances per page asked for.
        max_pages: pages read per window before giving up as UNDECIDABLE.
        max_query_attempts: tries per page when a call is throttled or fails (with
            full-jitter backoff from 1 s doubling to 30 s, the shared `Backoff`: an
            unanswered query leaves the chunk unknown until a later run).
        trigger_types: the TriggerType values a rerun's instances carry.
        rng: the backoff's jitter (seeded in tests).
    """

    def __init__(
        self,
        client: InstanceLister,
        *,
        clock: Clock | None = None,
        timezone: str,
        acquire: Callable[[], Awaitable[None]] | None = None,
        settle_seconds: float = DEFAULT_SETTLE,
        clock_skew_seconds: float = DEFAULT_CLOCK_SKEW,
        page_size: int = 100,
        max_pages: int = 100,
        max_query_attempts: int = 10,
        trigger_types: Collection[int] = RERUN_TRIGGER_TYPES,
        rng: random.Random | None = None,
    ) -> None:
        if settle_seconds < 0 or clock_skew_seconds < 0:
            raise ValueError("settle_seconds and clock_skew_seconds must be >= 0")
        self._clock = clock or SystemClock()
        self.finder = InstanceFinder(
            client,
            clock=self._clock,
            acquire=acquire,
            page_size=page_size,
            max_pages=max_pages,
            max_query_attempts=max_query_attempts,
            rng=rng,
        )
        self._timezone = timezone
        self._zone = ZoneInfo(timezone)
        self._settle = settle_seconds
        self._skew = clock_skew_seconds
        self._trigger_types = frozenset(trigger_types)

    async def reconcile(self, record: ChunkRecord) -> Reconciliation:
        """What became of `record`'s last attempt. Never raises for an API failure."""
        chunk = record.chunk
        started = record.attempt_started_at
        if started is None:
            verdict = Reconciliation(ReconcileOutcome.ABSENT, "never sent: no attempt began")
            self._log_result(chunk, verdict, queries=0)
            return verdict
        wait = started + self._settle - self._clock.wall()
        if wait > 0:
            await self._clock.sleep(wait)
        windows = time_windows(
            started,
            self._clock.wall(),
            chunk.first_day,
            chunk.last_day,
            self._zone,
            skew=self._skew,
        )
        seen: dict[int, JobInstance] = {}
        queries = 0
        try:
            for reading, (low, high) in windows.items():
                queries += await self.finder.collect(chunk, reading, low, high, seen)
        except UnansweredError as exc:
            verdict = Reconciliation(ReconcileOutcome.UNDECIDABLE, str(exc))
        else:
            verdict = judge_instances(
                seen.values(),
                chunk,
                started,
                timezone=self._timezone,
                skew=self._skew,
                trigger_types=self._trigger_types,
            )
        self._log_result(chunk, verdict, queries=queries)
        return verdict

    async def list_instances(
        self, chunk: Chunk, low: int, high: int, *, reading: str
    ) -> list[JobInstance] | None:
        """`InstanceFinder.list_instances` of this reconciler's finder (an `InstanceSource`,
        so that the guard and the watcher can be given the reconciler)."""
        return await self.finder.list_instances(chunk, low, high, reading=reading)

    def _log_result(self, chunk: Chunk, verdict: Reconciliation, *, queries: int) -> None:
        _log.info(
            "rerun.reconcile",
            chunk=chunk.key,
            job_id=chunk.job_id,
            outcome=verdict.outcome.value,
            reason=verdict.reason,
            instance_ids=list(verdict.instance_ids),
            pages=queries,
        )

    def __repr__(self) -> str:
        return (
            f"Reconciler(timezone={self._timezone!r}, settle_seconds={self._settle:g}, "
            f"clock_skew_seconds={self._skew:g})"
        )
