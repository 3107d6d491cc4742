"""The instance finder: a job's instances as GetJobInstanceList lists them, every page read.

Evidence only; what it means is decided elsewhere (`judge_instances` for a doubtful chunk,
the guard for days a journal never saw, the watcher for accepted days). What it does, and
why:

1. Which time StartTimestamp/EndTimestamp filter on is undocumented, so `time_windows`
   gives both readings: around the moments of interest (since - skew .. now + skew) for a
   server that filters on ScheduleTime, over the days (first midnight .. the midnight after
   the last day) for one that filters on DataTime. The wrong reading of each window returns
   rows the caller discards, never misses ours.
2. It reads every page, because the order is undocumented too, and de-duplicates by id
   (rows shift between pages when instances are created meanwhile).
3. Each call first awaits `acquire`, so the reads spend GetJobInstanceList's own quota at
   their own pace; throttled or failed calls are retried with the shared full-jitter
   `Backoff` (the server's retry-after first), then the listing is unanswered, never empty.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from .._clock import Clock, SystemClock
from .._logs import get_logger
from ..plan._model import Chunk
from ..schedulerx._errors import ApiCallError, SchedulerXError
from ..schedulerx._wire import InstanceListPage, InstanceListQuery, JobInstance, Verdict
from ._backoff import Backoff

_log = get_logger("rerun_orchestrator.journal")  # the reconciler's events kept their logger

# 1 s doubling to 30 s: with the default 10 tries, patient for up to ~2.5 min, because an
# unanswered listing leaves a chunk unknown (or a job unsent) until a later run.
READ_BACKOFF = Backoff(base=1.0, cap=30.0)


class InstanceLister(Protocol):
    """The one client call the finder needs (`SchedulerXClient` has it)."""

    async def get_job_instance_list(self, query: InstanceListQuery) -> InstanceListPage: ...


class InstanceSource(Protocol):
    """A paged, paced, retried listing (`InstanceFinder`; a `Reconciler` forwards to its own)."""

    async def list_instances(
        self, chunk: Chunk, low: int, high: int, *, reading: str
    ) -> list[JobInstance] | None: ...


class UnansweredError(Exception):
    """A listing that could not be answered; the message says why (an UNDECIDABLE reason).

    Its ``__cause__`` is the last error of the client, if any.
    """


def midnight_ms(day: date, zone: ZoneInfo) -> int:
    """Epoch ms of local midnight at the start of `day` in `zone`."""
    return ms(datetime.combine(day, time(), zone).timestamp())


def ms(seconds: float) -> int:
    """Epoch seconds as the API's epoch milliseconds."""
    return int(seconds * 1000)


def time_windows(
    since: float, now: float, first: date, last: date, zone: ZoneInfo, *, skew: float
) -> dict[str, tuple[int, int]]:
    """Both readings of the listing's time filter, as epoch-ms (low, high) by reading.

    Args:
        since: the earliest wall time (epoch s) an instance of interest was scheduled.
        now: wall time now.
        first, last: the data days of interest, both included.
        zone: the server's day cut (the plan's zone).
        skew: seconds the server's clock may differ from ours.
    """
    return {
        "schedule_time": (ms(since - skew), ms(now + skew)),
        "data_time": (midnight_ms(first, zone), midnight_ms(last + timedelta(days=1), zone)),
    }


class InstanceFinder:
    """Lists a job's instances: paged, paced and retried.

    Args:
        client: anything with `get_job_instance_list` (a `SchedulerXClient`).
        clock: for the retry sleeps.
        acquire: awaited before every call (a rate limiter's acquire).
        page_size: instances per page asked for.
        max_pages: pages read per window before giving up.
        max_query_attempts: tries per page when a call is throttled or fails.
        backoff: the wait before each retry, when the server gives no retry-after.
        rng: the jitter's randomness (seeded in tests).
    """

    def __init__(
        self,
        client: InstanceLister,
        *,
        clock: Clock | None = None,
        acquire: Callable[[], Awaitable[None]] | None = None,
        page_size: int = 100,
        max_pages: int = 100,
        max_query_attempts: int = 10,
        backoff: Backoff = READ_BACKOFF,
        rng: random.Random | None = None,
    ) -> None:
        if page_size < 1 or max_pages < 1 or max_query_attempts < 1:
            raise ValueError("page_size, max_pages and max_query_attempts must be >= 1")
        self._client = client
        self._clock = clock or SystemClock()
        self._acquire = acquire
        self._page_size = page_size
        self._max_pages = max_pages
        self._max_attempts = max_query_attempts
        self._backoff = backoff
        self._rng = rng or random.Random()

    async def list_instances(
        self, chunk: Chunk, low: int, high: int, *, reading: str
    ) -> list[JobInstance] | None:
        """Every instance of `chunk`'s job that one window (epoch ms) lists; None if the
        server could not answer (the caller must then not take silence for absence).

        Raises:
            ApiCallError: the server refused the query for good (e.g. an unknown job).
        """
        seen: dict[int, JobInstance] = {}
        try:
            await self.collect(chunk, reading, low, high, seen)
        except UnansweredError as exc:
            cause = exc.__cause__
            if isinstance(cause, ApiCallError) and cause.result.verdict is Verdict.PERMANENT:
                raise cause from None
            return None
        return list(seen.values())

    async def collect(
        self, chunk: Chunk, reading: str, low: int, high: int, seen: dict[int, JobInstance]
    ) -> int:
        """Read every page of one window into `seen`; returns the number of pages read.

        Raises:
            UnansweredError: a page could not be had, or there were too many pages.
        """
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
        raise UnansweredError(
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
                _log_query(chunk, reading, query, attempt, error=exc)
                if not retryable or attempt == self._max_attempts:
                    raise UnansweredError(
                        f"GetJobInstanceList could not be answered ({exc}); "
                        "nothing was resent, a later run checks again"
                    ) from exc
                hint = exc.result.retry_after_ms
                delay = hint / 1000 if hint else self._backoff.delay(attempt, self._rng)
                await self._clock.sleep(min(delay, self._backoff.cap))
            except SchedulerXError as exc:  # credentials or endpoint: retrying will not help
                raise UnansweredError(f"GetJobInstanceList could not be sent ({exc})") from exc
            else:
                _log_query(chunk, reading, query, attempt, page=page)
                return page
        raise AssertionError("unreachable")  # pragma: no cover

    def __repr__(self) -> str:
        return (
            f"InstanceFinder(page_size={self._page_size}, max_pages={self._max_pages}, "
            f"max_query_attempts={self._max_attempts})"
        )


def _log_query(
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
