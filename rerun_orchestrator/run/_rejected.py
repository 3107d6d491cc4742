"""Days rejected for lack of capacity are retried in place once capacity frees up.

SchedulerX may reject (status 9) a rerun instance beyond its job's `MaxConcurrency`, for
instance when a production run or another team's rerun holds the slot. Such a day is not
a failure of the data: the watcher offers it here as it records the rejection, and it is
retried with RetryJobInstance on that same instance (each day keeps exactly one rerun
instance) once the capacity gate grants the job a slot again; without caps, after about
one instance's duration. The slot is then kept until the watcher sees the day end again.
On a shared journal the retry also takes a slot of the group's cap across replicas
(`shared`), given back once the day is recorded as waiting again (it then counts there).

A day is retried at most `MAX_RETRIES` times in a run; a day still rejected after that is
reported as rejected, as it was. While days wait here the watch goes on (`busy`).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Awaitable, Callable

import anyio
import structlog

from .._clock import Clock
from ..journal._instances import DayInstance, InstanceState
from ..journal._store import Journal
from ..plan._model import Chunk
from ..schedulerx._wire import Verdict
from ._admission import Gate, Ticket
from ._capacity import InstanceGate
from ._offloop import journal_read, journal_write
from ._production import Durations
from ._retry_instances import InstanceRetrier, send_retry
from ._streams import JobKey

MAX_RETRIES = 20  # each one waits for a slot to free: many are cheap, and no day is lost
MAX_PAUSE = 60.0  # seconds waited at most for a foreign instance to end
_log = structlog.get_logger("rerun_orchestrator.run")


class RejectedRetrier:
    """Retries rejected days in place as capacity frees; one per run."""

    def __init__(
        self,
        client: InstanceRetrier,
        journal: Journal,
        clock: Clock,
        *,
        capacity: InstanceGate | None,
        durations: Durations,
        acquire: Callable[[], Awaitable[None]] | None = None,
        max_retries: int = MAX_RETRIES,
        shared: Gate | None = None,
    ) -> None:
        self._client = client
        self._journal = journal
        self._clock = clock
        self._capacity = capacity
        self._durations = durations
        self._acquire = acquire
        self._max = max_retries
        self._shared = shared
        self._queue: deque[tuple[DayInstance, int]] = deque()  # (day, freed count then)
        self._wake = anyio.Event()
        self._freed: dict[int, int] = {}  # per job id: instances seen to end (not rejected)
        self._freeing = anyio.Event()
        self._working = False
        self.retried = 0  # RetryJobInstance calls accepted (or that may have applied)

    def offer(self, item: DayInstance) -> bool:
        """The watcher recorded `item`: queue it if it is a rejection worth retrying."""
        if item.status is not InstanceState.REJECTED or item.instance_id is None:
            return False
        if item.retries >= self._max:
            return False
        self._queue.append((item, self._freed.get(item.job_id, 0)))
        self._wake.set()
        return True

    def freed(self, job_id: int) -> None:
        """An instance of the job ended (not rejected): the server has a slot again."""
        self._freed[job_id] = self._freed.get(job_id, 0) + 1
        self._freeing.set()
        self._freeing = anyio.Event()

    def busy(self) -> bool:
        return bool(self._queue) or self._working

    async def run(self) -> None:
        """Retry offered days, one after another, until cancelled."""
        while True:
            if not self._queue:
                self._wake = anyio.Event()
                await self._wake.wait()
                continue
            item, mark = self._queue[0]
            self._working = True
            try:
                await self._retry(item, mark)
            finally:
                self._queue.popleft()
                self._working = False

    async def _retry(self, item: DayInstance, mark: int) -> None:
        record = await journal_read(self._journal, self._journal.get, item.chunk_key)
        if record is None or item.instance_id is None:
            return
        chunk = record.chunk
        job = JobKey(chunk.region, chunk.namespace, chunk.group_id, chunk.job_id)
        capacity = self._capacity
        # Capacity frees when one of the job's instances ends; if none of ours is active,
        # whatever filled the job (a production run, another team) is expected to end
        # within about one duration.
        if self._freed.get(item.job_id, 0) == mark:
            ours = capacity is None or capacity.active(job) > 0
            patience = min(self._durations.expected(job), MAX_PAUSE)
            await self._until_freed(item.job_id, mark, None if ours else patience)
        if capacity is not None:
            await capacity.start(Ticket(job, 1))  # a slot, fairly among the jobs
        shared = self._shared
        slot = None if shared is None else await shared.start(Ticket(job, 1))
        try:
            await self._send(item, chunk, job)
        finally:
            if shared is not None and slot is not None:
                shared.finished(slot)

    async def _until_freed(self, job_id: int, mark: int, patience: float | None) -> None:
        """Until an instance of the job ends after `mark` (or `patience` seconds pass;
        without caps, `MAX_PAUSE` at most: the watcher may not see what frees the job)."""
        limit = patience if patience is not None else MAX_PAUSE
        async with anyio.create_task_group() as tg:

            async def freed() -> None:
                while self._freed.get(job_id, 0) == mark:
                    await self._freeing.wait()
                tg.cancel_scope.cancel()

            async def timeout() -> None:
                await self._clock.sleep(limit)
                tg.cancel_scope.cancel()

            tg.start_soon(freed)
            tg.start_soon(timeout)

    async def _send(self, item: DayInstance, chunk: Chunk, job: JobKey) -> None:
        assert item.instance_id is not None
        result = await send_retry(self._client, chunk, item.instance_id, self._acquire, self._clock)
        accepted = result.verdict in (Verdict.SUCCEEDED, Verdict.AMBIGUOUS)
        _log.info(
            "rerun.instance.retry",
            job_id=chunk.job_id,
            day=item.day.isoformat(),
            instance_id=item.instance_id,
            verdict=result.verdict.value,
            request_id=result.request_id,
            reason="rejected for lack of capacity",
        )
        if not accepted:
            if self._capacity is not None:
                self._capacity.release(job, 1)
            refused = dataclasses.replace(item, reason=f"RetryJobInstance refused: {result.reason}")
            await journal_write(self._journal, self._journal.record_day_instances, [refused])
            return
        self.retried += 1
        await journal_write(
            self._journal,
            self._journal.record_day_instances,
            [
                dataclasses.replace(
                    item,
                    status=InstanceState.WAITING,
                    end_time=None,
                    updated_at=self._clock.wall(),
                    retries=item.retries + 1,
                    reason="rejected for lack of capacity; retried in place with "
                    f"RetryJobInstance (request {result.request_id})",
                )
            ],
        )
        if self._capacity is not None:
            self._capacity.retake(item.chunk_key, job, item.day)  # kept until it ends again


__all__ = ["MAX_RETRIES", "RejectedRetrier"]
