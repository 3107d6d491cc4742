"""The `Reconciler`: asks SchedulerX whether an ambiguous attempt applied, before any resend.

A thin async shell around `judge_instances`. What it does, and why:

1. A record never sent (no `attempt_started_at`) is ABSENT at once: nothing to look for.
2. It waits until `settle_seconds` after the attempt began, so that "no instance" means
   "not applied" rather than "not created yet".
3. It asks GetJobInstanceList twice, because which time StartTimestamp/EndTimestamp
   filter on is undocumented: once around the attempt (attempt - skew .. now + skew) for
   a server that filters on ScheduleTime, once over the chunk's days (first midnight ..
   the midnight after the last day) for one that filters on DataTime. The wrong reading
   of each window returns rows we then discard, never misses ours.
4. It reads every page, because the order is undocumented too, and de-duplicates by id
   (rows shift between pages when instances are created meanwhile).
5. Each call first awaits `acquire`, so reconciliation spends GetJobInstanceList's own
   quota at its own pace; throttled or failed calls (and malformed pages) are retried
   patiently, then the answer is UNDECIDABLE with the reason, never a guess.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from .._clock import Clock, SystemClock
from .._logs import get_logger
from ..plan._model import Chunk
from ..schedulerx._errors import ApiCallError, SchedulerXError
from ..schedulerx._wire import InstanceListPage, InstanceListQuery, JobInstance, Verdict
from ._judge import RERUN_TRIGGER_TYPES, judge_instances
from ._model import ChunkRecord, ReconcileOutcome, Reconciliation

_log = get_logger("rerun_orchestrator.journal")

_RETRY_BASE = 1.0  # seconds; doubled per retry of a throttled or failed query
_RETRY_CAP = 30.0


class InstanceLister(Protocol):
    """The one client call reconciliation needs (`SchedulerXClient` has it)."""

    async def get_job_instance_list(self, query: InstanceListQuery) -> InstanceListPage: ...


class _UnansweredError(Exception):
    """A query that could not be answered; its message is the UNDECIDABLE reason."""


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
            backoff from 1 s doubling to 30 s: the default is patient for about 3 min,
            because an unanswered query leaves the chunk unknown until a later run).
        trigger_types: the TriggerType values a rerun's instances carry.
    """

    def __init__(
        self,
        client: InstanceLister,
        *,
        clock: Clock | None = None,
        timezone: str,
        acquire: Callable[[], Awaitable[None]] | None = None,
        settle_seconds: float = 10.0,
        clock_skew_seconds: float = 300.0,
        page_size: int = 100,
        max_pages: int = 100,
        max_query_attempts: int = 10,
        trigger_types: Collection[int] = RERUN_TRIGGER_TYPES,
    ) -> None:
        if settle_seconds < 0 or clock_skew_seconds < 0:
            raise ValueError("settle_seconds and clock_skew_seconds must be >= 0")
        if page_size < 1 or max_pages < 1 or max_query_attempts < 1:
            raise ValueError("page_size, max_pages and max_query_attempts must be >= 1")
        self._client = client
        self._clock = clock or SystemClock()
        self._timezone = timezone
        self._zone = ZoneInfo(timezone)
        self._acquire = acquire
        self._settle = settle_seconds
        self._skew = clock_skew_seconds
        self._page_size = page_size
        self._max_pages = max_pages
        self._max_attempts = max_query_attempts
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
        now = self._clock.wall()
        windows = {
            "schedule_time": (_ms(started - self._skew), _ms(now + self._skew)),
            "data_time": (chunk.start_date, self._midnight_after(chunk)),
        }
        seen: dict[int, JobInstance] = {}
        queries = 0
        try:
            for reading, (low, high) in windows.items():
                queries += await self._collect(chunk, reading, low, high, seen)
        except _UnansweredError as exc:
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
        """Every instance of `chunk`'s job that one window (epoch ms) lists, every page
        read, paced and retried as reconciliation's own queries; None if the server could
        not answer (the caller must then not take silence for absence).

        Raises:
            ApiCallError: the server refused the query for good (e.g. an unknown job).
        """
        seen: dict[int, JobInstance] = {}
        try:
            await self._collect(chunk, reading, low, high, seen)
        except _UnansweredError as exc:
            cause = exc.__cause__
            if isinstance(cause, ApiCallError) and cause.result.verdict is Verdict.PERMANENT:
                raise cause from None
            return None
        return list(seen.values())

    async def _collect(
        self, chunk: Chunk, reading: str, low: int, high: int, seen: dict[int, JobInstance]
    ) -> int:
        """Read every page of one window into `seen`; returns the number of pages read."""
        count = 0
        for page_num in range(1, self._max_pages + 1):
            query = InstanceListQuery(
                region=chunk.region,
                namespace=chunk.namespace,
                group_id=chunk.group_id,
                job_id=chunk.job_id,
                namespace_source=chunk.namespace_source,
                start_timestamp=low,
                end_timestamp=high,
                page_num=page_num,
                page_size=self._page_size,
            )
            page = await self._query(chunk, reading, query)
            for instance in page.instances:
                seen[instance.instance_id] = instance
            count += len(page.instances)
            # A server may cap the page size without saying so: only an empty page, or
            # the total it announced, proves the end.
            if not page.instances or (page.total is not None and count >= page.total):
                return page_num
        raise _UnansweredError(
            f"more than {self._max_pages * self._page_size} instances of job {chunk.job_id} "
            f"in the {reading} window; too many to check, settle the chunk by hand"
        )

    async def _query(
        self, chunk: Chunk, reading: str, query: InstanceListQuery
    ) -> InstanceListPage:
        for attempt in range(1, self._max_attempts + 1):
            if self._acquire is not None:
                await self._acquire()
            try:
                page = await self._client.get_job_instance_list(query)
            except ApiCallError as exc:
                retryable = exc.result.verdict in (Verdict.RETRY, Verdict.RESIGN)
                self._log_query(chunk, reading, query, attempt, error=exc)
                if not retryable or attempt == self._max_attempts:
                    raise _UnansweredError(
                        f"GetJobInstanceList could not be answered ({exc}); "
                        "nothing was resent, a later run checks again"
                    ) from exc
                hint = exc.result.retry_after_ms
                delay = hint / 1000 if hint else _RETRY_BASE * 2 ** (attempt - 1)
                await self._clock.sleep(min(delay, _RETRY_CAP))
            except SchedulerXError as exc:  # credentials or endpoint: retrying will not help
                raise _UnansweredError(f"GetJobInstanceList could not be sent ({exc})") from exc
            else:
                self._log_query(chunk, reading, query, attempt, page=page)
                return page
        raise AssertionError("unreachable")  # pragma: no cover

    def _midnight_after(self, chunk: Chunk) -> int:
        day = chunk.last_day + timedelta(days=1)
        return _ms(datetime.combine(day, time(), self._zone).timestamp())

    def _log_query(
        self,
        chunk: Chunk,
        reading: str,
        query: InstanceListQuery,
        attempt: int,
        *,
        page: InstanceListPage | None = None,
        error: ApiCallError | None = None,
    ) -> None:
        _log.info(
            "rerun.reconcile.query",
            chunk=chunk.key,
            job_id=chunk.job_id,
            window=reading,
            start_timestamp=query.start_timestamp,
            end_timestamp=query.end_timestamp,
            page=query.page_num,
            attempt=attempt,
            instances=None if page is None else len(page.instances),
            total=None if page is None else page.total,
            request_id=None if error is None else error.result.request_id,
            code=None if error is None else error.result.code,
            error=None if error is None else error.result.reason,
        )

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


def _ms(seconds: float) -> int:
    return int(seconds * 1000)
