"""`--retry-failed` for days whose instance failed or was rejected: RetryJobInstance on
that same instance, so each day keeps exactly one rerun instance (a RerunJob would make a
second). The retried days are then watched again like any other.

Sent once per day per run, paced by RetryJobInstance's own quota. A lost answer may have
applied: the day is watched as if it had (if it had not, the watcher sees the old end
again and the day stays failed), never retried blindly in the same run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

from .._clock import Clock, SystemClock
from ..journal._instances import DayInstance, InstanceState
from ..journal._model import ChunkStatus
from ..journal._store import Journal
from ..journal._view import day_status, job_view, plan_jobs
from ..plan._model import Chunk
from ..plan._plan import Plan
from ..schedulerx._wire import AttemptResult, Verdict
from ._offloop import journal_read, journal_write

_MAX_ATTEMPTS = 6
_log = structlog.get_logger("rerun_orchestrator.run")


class InstanceRetrier(Protocol):
    async def retry_job_instance(
        self,
        *,
        region: str,
        namespace: str,
        group_id: str,
        job_id: int,
        instance_id: int,
        namespace_source: str | None = None,
    ) -> AttemptResult: ...


async def retry_failed_instances(
    client: InstanceRetrier,
    journal: Journal,
    plan: Plan,
    *,
    acquire: Callable[[], Awaitable[None]] | None = None,
    clock: Clock | None = None,
    generation: int = 0,
) -> int:
    """Retry in place every plan day whose instance failed or was rejected; returns how
    many retries were accepted (or may have been)."""
    clock = clock or SystemClock()
    retried = 0
    for job in plan_jobs(plan):
        view = await journal_read(journal, job_view, journal, job, generation=generation)
        records = {
            s.record.key: s.record
            for s in view.segments()
            if s.record is not None and day_status(s) is ChunkStatus.SUCCEEDED
        }
        if not records:
            continue
        for item in (await journal_read(journal, journal.day_instances, records)).values():
            if not item.status.retryable or item.instance_id is None:
                continue
            chunk = records[item.chunk_key].chunk
            result = await send_retry(client, chunk, item.instance_id, acquire, clock)
            _log.info(
                "rerun.instance.retry",
                job_id=chunk.job_id,
                day=item.day.isoformat(),
                instance_id=item.instance_id,
                verdict=result.verdict.value,
                request_id=result.request_id,
                reason=result.reason,
            )
            if result.verdict in (Verdict.SUCCEEDED, Verdict.AMBIGUOUS):
                retried += 1
                await journal_write(
                    journal,
                    journal.record_day_instances,
                    [
                        dataclasses.replace(
                            item,
                            status=InstanceState.WAITING,
                            end_time=None,
                            updated_at=clock.wall(),
                            retries=item.retries + 1,
                            reason=f"retried in place with RetryJobInstance "
                            f"(was {item.status}; request {result.request_id})",
                        )
                    ],
                )
            else:
                await journal_write(
                    journal, _note, journal, item, f"RetryJobInstance refused: {result.reason}"
                )
    return retried


async def send_retry(
    client: InstanceRetrier,
    chunk: Chunk,
    instance_id: int,
    acquire: Callable[[], Awaitable[None]] | None,
    clock: Clock,
) -> AttemptResult:
    """One RetryJobInstance, resent only while certainly not applied (throttled, 503)."""
    for attempt in range(1, _MAX_ATTEMPTS + 1):
        if acquire is not None:
            await acquire()
        result = await client.retry_job_instance(
            region=chunk.region,
            namespace=chunk.namespace,
            group_id=chunk.group_id,
            job_id=chunk.job_id,
            instance_id=instance_id,
            namespace_source=chunk.namespace_source,
        )
        if result.verdict not in (Verdict.RETRY, Verdict.RESIGN) or attempt == _MAX_ATTEMPTS:
            return result
        hint = result.retry_after_ms
        await clock.sleep(min(hint / 1000 if hint else 0.5 * 2 ** (attempt - 1), 30.0))
    raise AssertionError("unreachable")  # pragma: no cover


def _note(journal: Journal, item: DayInstance, why: str) -> None:
    journal.record_day_instances([dataclasses.replace(item, reason=why)])
