"""One job of the plan, from the ledger's days to settled chunks.

A worker takes the next job and reads what the journal holds about its days (one indexed
read, `job_view`). Doubtful records that hold a day of the plan (in flight or unknown,
from any run, plan or chunking) are reconciled first; then the job's chunks are derived
from the days nobody covers and sent one after another (`per_job_concurrency` lanes).
Nothing is synced up front, so the first call of a plan of any size goes out as soon as
its first job has been read.

If the journal refuses a chunk because another record covers one of its days
(`DayCoveredError`: a view gone stale, say the same job in two targets), the job is read
and derived again; the refusal itself sent nothing.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

import anyio

from .._logs import get_logger
from ..journal._errors import DayCoveredError
from ..journal._model import ChunkStatus
from ..journal._view import (
    JobPlan,
    JobView,
    derive_chunks,
    finished,
    job_view,
    viewed_chunks,
)
from ..plan._model import Chunk
from ._chunk import ChunkRunner
from ._concurrency import KeyedLimiter
from ._stop import StoppedError, StopSignal
from ._streams import JobKey

_log = get_logger("rerun_orchestrator.run")

# Derivations of one job per run: a refusal means a stale view, which one re-read fixes.
_MAX_DERIVATIONS = 4
# Jobs of more days are derived in a worker thread: ~35 us a chunk would hold the event
# loop for tens of milliseconds per job, and several workers derive one after another.
_DERIVE_OFF_LOOP_DAYS = 128


class Screened(enum.Enum):
    """What a `DayGuard` says about a job's chunks."""

    SEND = "send"  # nothing found: send them
    DERIVE_AGAIN = "derive again"  # some days were found done and recorded
    HOLD = "hold"  # the server could not be asked: send none of them in this run


class DayGuard(Protocol):
    """Checks days the journal has never seen against the server before they are sent."""

    async def screen(self, view: JobView, chunks: list[Chunk]) -> Screened:
        """Record as done the days of `chunks` that the server shows as already rerun."""
        ...


@dataclass(slots=True)
class JobDispatcher:
    """Settles the plan's jobs; one per run, shared by every worker."""

    runner: ChunkRunner
    jobs: KeyedLimiter
    signal: StopSignal
    zone: ZoneInfo
    plan_name: str
    timezone: str
    retry_failed: bool = False
    newest_first: bool = False
    generation: int = 0
    guard: DayGuard | None = None
    # one derivation thread per run: more would fight the event loop for the GIL
    derive_threads: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(1))

    async def run(self, job: JobPlan) -> bool:
        """Take one job as far as this run can; False once a stop has been requested."""
        journal = self.runner.journal
        done = finished(journal, job, generation=self.generation)
        if done is not None:  # a resume skips a finished job without reading its records
            by_status = self.runner.stats.by_status
            by_status[ChunkStatus.PENDING] -= job.target.chunks_per_job
            by_status[ChunkStatus.SUCCEEDED] += done.records
            return not self.signal.is_set
        view = job_view(journal, job, generation=self.generation)
        self._account(view)
        key = JobKey(job.target.region, job.target.namespace, job.target.group_id, job.job_id)
        doubtful = view.doubtful()
        if doubtful:
            for record in doubtful:
                with self.runner.events.tracking(record.chunk):
                    checked = await self._capped(key, functools.partial(self.runner.check, record))
                if not checked:
                    return False
            view = job_view(journal, job, generation=self.generation)
        for _ in range(_MAX_DERIVATIONS):
            chunks = await self._derive(view)
            if chunks and self.guard is not None:
                screened = await self.guard.screen(view, chunks)
                if screened is Screened.HOLD:
                    return not self.signal.is_set
                if screened is Screened.DERIVE_AGAIN:
                    view = job_view(journal, job, generation=self.generation)
                    chunks = await self._derive(view)
            if not chunks:
                return not self.signal.is_set
            outcome = await self._send(key, chunks)
            if outcome is not _Outcome.CONFLICT:
                return outcome is _Outcome.DONE
            view = job_view(journal, job, generation=self.generation)
        _log.warning(
            "rerun.job.gave_up", job_id=job.job_id, reason="derived chunks kept conflicting"
        )
        return not self.signal.is_set

    async def _derive(self, view: JobView) -> list[Chunk]:
        derive = functools.partial(
            derive_chunks,
            view,
            self.zone,
            retry_failed=self.retry_failed,
            newest_first=self.newest_first,
        )
        if view.job.target.days_per_job < _DERIVE_OFF_LOOP_DAYS:
            return derive()
        return await anyio.to_thread.run_sync(derive, limiter=self.derive_threads)

    def _account(self, view: JobView) -> None:
        """Replace the job's guess in the live counts (the plan's own cut) by the truth."""
        if not view.records:  # untouched: the guess is the truth
            return
        by_status = self.runner.stats.by_status
        by_status[ChunkStatus.PENDING] -= view.job.target.chunks_per_job
        for record in viewed_chunks(view, self.zone):
            by_status[record.status] += 1

    async def _send(self, key: JobKey, chunks: list[Chunk]) -> _Outcome:
        runner, journal = self.runner, self.runner.journal
        pending = iter(chunks)
        state: dict[str, _Outcome] = {"outcome": _Outcome.DONE}

        async def lane() -> None:
            for planned in pending:  # lanes share the iterator: chunks still start in order
                if state["outcome"] is not _Outcome.DONE:
                    return
                chunk = planned
                if self.generation:  # a deliberate rerun: its own records, beside the first
                    chunk = dataclasses.replace(planned, key=f"{planned.key}~g{self.generation}")
                record = journal.propose(
                    chunk, plan=self.plan_name, timezone=self.timezone, generation=self.generation
                )
                if not runner.needs_work(record):
                    continue
                try:
                    with runner.events.tracking(record.chunk):
                        going = await self._capped(key, functools.partial(runner.run, record))
                except DayCoveredError as exc:
                    _log.info(
                        "rerun.chunk.covered", chunk=chunk.key, by=exc.by_key, plan=exc.by_plan
                    )
                    state["outcome"] = _Outcome.CONFLICT
                    return
                if not going:
                    state["outcome"] = _Outcome.STOPPED
                    return

        lanes = min(self.jobs.limit, len(chunks))
        if lanes == 1:
            await lane()
        else:
            async with anyio.create_task_group() as tg:
                for _ in range(lanes):
                    tg.start_soon(lane)
        return state["outcome"]

    async def _capped(self, key: JobKey, work: Callable[[], Awaitable[object]]) -> bool:
        """Run `work` under the job's cap; False once a stop has been requested."""
        signal = self.signal
        if signal.is_set:
            return False
        if not self.jobs.try_acquire(key):
            try:
                with signal.waiting():
                    await self.jobs.acquire(key)
            except StoppedError:
                return False
        try:
            await work()
        except StoppedError:
            return False
        finally:
            self.jobs.release(key)
        return not signal.is_set


class _Outcome(enum.Enum):
    DONE = "done"
    STOPPED = "stopped"
    CONFLICT = "conflict"


__all__ = ["DayGuard", "JobDispatcher", "Screened"]
