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

Before a chunk is admitted (its lane, capacity, the run's concurrency slot) it is checked
against the other records of its days (`_separation`): one in doubt holds it back (it
stays pending, the lane goes on); one answered too recently parks the job (`_parked`), so
the wait holds no slot anyone else could use.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

import anyio

from .._logs import get_logger
from ..journal._errors import DayCoveredError
from ..journal._lease import JobLeases, LeaseLostError
from ..journal._ledger import DayState
from ..journal._model import ChunkRecord, ChunkStatus
from ..journal._view import (
    JobPlan,
    JobView,
    derive_chunks,
    finished,
    job_view,
    viewed_chunks,
)
from ..plan._model import Chunk
from ._admission import Admission, Gate, LaneGate, Ticket
from ._capacity import InstanceGate
from ._chunk import ChunkRunner
from ._concurrency import KeyedLimiter
from ._doubt import is_doubtful
from ._offloop import journal_read
from ._parked import ParkedJobs
from ._sending import Outcome, Sending, cut_admitted
from ._separation import HeldError, Hold, hold_among, may_hold
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
    # gates a chunk passes after its lane, before capacity (production first)
    gates: Sequence[Gate] = ()
    # the caps on active instances, if any (its releases come from the watcher)
    capacity: InstanceGate | None = None
    deferred: list[JobPlan] = field(default_factory=list)  # jobs other replicas held
    parked: ParkedJobs = field(default_factory=ParkedJobs)  # jobs waiting out a separation
    _retaken: set[JobPlan] = field(init=False, default_factory=set)  # parked, counted already
    _park_asked: dict[JobPlan, float] = field(init=False, default_factory=dict)
    # counts a job's instances still active from earlier runs (or replicas) as it starts
    adopt: Callable[[JobView, JobKey], None] | None = None
    _checking: Admission = field(init=False)
    _sending: Admission = field(init=False)

    def __post_init__(self) -> None:
        lane = LaneGate(self.jobs)
        self._checking = Admission([lane], self.signal)
        caps = [] if self.capacity is None else [self.capacity]
        # a gate that cuts by time (production first) before the one that takes capacity
        self._sending = Admission([lane, *self.gates, *caps], self.signal)

    async def run(self, job: JobPlan) -> bool:
        """Take one job as far as this run can; False once a stop has been requested."""
        journal = self.runner.journal
        done = await journal_read(journal, finished, journal, job, generation=self.generation)
        if done is not None:  # a resume skips a finished job without reading its records
            if job in self._retaken:  # parked, then finished by another replica: counted
                self._retaken.discard(job)
                return not self.signal.is_set
            by_status = self.runner.stats.by_status
            by_status[ChunkStatus.PENDING] -= job.target.chunks_per_job
            by_status[ChunkStatus.SUCCEEDED] += done.records
            return not self.signal.is_set
        leases = getattr(journal, "leases", None)
        if not isinstance(leases, JobLeases):
            try:
                return await self._run(job)
            finally:
                self._park_if_asked(job)
        # A journal shared by replicas: work on the job only while holding its lease;
        # a job another replica holds is taken up again once the others are done.
        if not await anyio.to_thread.run_sync(leases.claim, job.identity):
            self.deferred.append(job)
            return not self.signal.is_set
        try:
            return await self._run(job)
        except LeaseLostError:
            self.deferred.append(job)
            return not self.signal.is_set
        finally:  # in a thread: the job's outcomes are written first
            try:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(leases.release, job.identity)
            finally:
                # Parked only once its lease is released: taken up again before, its new
                # claim's lease would be the one this release deletes.
                self._park_if_asked(job)

    def _park_if_asked(self, job: JobPlan) -> None:
        until = self._park_asked.pop(job, None)
        if until is not None:
            self.parked.park(job, until)
            self._retaken.add(job)

    async def run_deferred(self) -> None:
        """Come back to the jobs other replicas held until each is done here or there: a
        replica that died leaves its jobs to the survivors once its leases expire."""
        leases = getattr(self.runner.journal, "leases", None)
        poll = min(2.0, max(0.05, leases.seconds / 6)) if isinstance(leases, JobLeases) else 1.0
        while self.deferred and not self.signal.is_set:
            jobs, self.deferred = self.deferred, []
            for job in jobs:
                if not await self.run(job):
                    return
            if self.deferred:
                try:
                    await self.signal.sleep(self.runner.clock.sleep, poll)
                except StoppedError:
                    return

    async def run_due(self) -> bool:
        """Take up the parked jobs whose wait is over; False once a stop has been requested."""
        while (job := self.parked.pop_due(self.runner.clock.wall())) is not None:
            if not await self.run(job):
                return False
        return not self.signal.is_set

    async def run_later(self, workers: int) -> None:
        """Once the plan's jobs have all been taken: the parked ones (`workers` at a time,
        each when its wait is over) and those other replicas held, until none is left."""
        while (self.parked or self.deferred) and not self.signal.is_set:
            if self.parked:
                await self.parked.drain(
                    self.run, self.runner.clock, self.signal, self.runner.stats, workers
                )
            await self.run_deferred()

    async def _run(self, job: JobPlan) -> bool:
        view = await self._view(job)
        if job in self._retaken:  # counted when first read; moved live since
            self._retaken.discard(job)
        else:
            self._account(view)
        key = JobKey(job.target.region, job.target.namespace, job.target.group_id, job.job_id)
        if self.adopt is not None:  # instances still active from before hold capacity
            self.adopt(view, key)
        doubtful = view.doubtful()
        if self.retry_failed:
            doubtful += self._failed_in_doubt(view)
        if doubtful:
            for record in doubtful:
                check = functools.partial(self.runner.check, record)
                with self.runner.events.tracking(record.chunk):
                    checked = await self._capped(Ticket(key, 0), check)
                if not checked:
                    return False
            view = await self._view(job)
        for _ in range(_MAX_DERIVATIONS):
            chunks = await self._derive(view)
            if chunks and self.guard is not None:
                screened = await self.guard.screen(view, chunks)
                if screened is Screened.HOLD:
                    return not self.signal.is_set
                if screened is Screened.DERIVE_AGAIN:
                    view = await self._view(job)
                    chunks = await self._derive(view)
            if not chunks:
                return not self.signal.is_set
            outcome, until = await self._send(view, key, chunks)
            if outcome is Outcome.PARKED:
                assert until is not None
                self._park_asked[job] = until  # parked by `run`, once the job is let go
                return not self.signal.is_set
            if outcome is Outcome.LOST:
                raise LeaseLostError(chunks[0].key, None)
            if outcome is not Outcome.CONFLICT:
                return outcome is Outcome.DONE
            view = await self._view(job)
        _log.warning(
            "rerun.job.gave_up", job_id=job.job_id, reason="derived chunks kept conflicting"
        )
        return not self.signal.is_set

    def _failed_in_doubt(self, view: JobView) -> list[ChunkRecord]:
        """With --retry-failed: the failed records on the job's failed days whose attempt
        may have applied (`is_doubtful`). Reconciled first, whatever chunks the days are
        now derived into: until then they hold every other record of their days back.
        Every such record of the days counts, not only the one a segment names: where
        records overlap the earliest names the days, and one behind it would hold the
        derived chunk run after run without ever being reconciled."""
        failed = [s for s in view.segments() if s.state is DayState.FAILED]
        if not failed:
            return []
        return [
            record
            for record in view.records
            if record.status is ChunkStatus.FAILED
            and is_doubtful(record, retry_failed=True)
            and any(
                record.chunk.first_day <= s.last and record.chunk.last_day >= s.first
                for s in failed
            )
        ]

    async def _view(self, job: JobPlan) -> JobView:
        journal = self.runner.journal
        return await journal_read(journal, job_view, journal, job, generation=self.generation)

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

    async def _send(
        self, view: JobView, key: JobKey, chunks: list[Chunk]
    ) -> tuple[Outcome, float | None]:
        """Send the job's chunks (derived from `view`); the outcome, and when a parked job
        may go again."""
        job = view.job
        # lanes share it: chunks still start in order
        sending = Sending(deque(chunks), self.runner.stats.held)
        holding = may_hold(  # once per view: a job of many records, many chunks
            view.records, separation=self.runner.separation, now=self.runner.clock.wall()
        )
        pending = sending.pending

        async def lane() -> None:
            while pending and sending.outcome is Outcome.DONE:
                planned = pending.popleft()
                if self.signal.is_set:
                    sending.outcome = Outcome.STOPPED
                    return
                # decided before admission: a wait here holds no slot of anyone's
                hold = await self._hold(view, holding, planned)
                if hold is not None:
                    if sending.held(self._record_key(planned), hold):
                        continue
                    return
                try:
                    admitted = await self._sending.enter(Ticket(key, planned.days))
                except StoppedError:
                    sending.outcome = Outcome.STOPPED
                    return
                record_key = [planned.key]
                try:
                    planned = cut_admitted(
                        job,
                        planned,
                        admitted.ticket.days,
                        pending,
                        newest_first=self.newest_first,
                        zone=self.zone,
                    )
                    going = await self._send_one(planned, record_key)
                except LeaseLostError:  # another replica took the job over: leave it
                    sending.outcome = Outcome.LOST
                    return
                except DayCoveredError as exc:
                    _log.info(
                        "rerun.chunk.covered", chunk=planned.key, by=exc.by_key, plan=exc.by_plan
                    )
                    sending.outcome = Outcome.CONFLICT
                    going = True
                except HeldError as exc:  # written meanwhile, by another run or replica
                    going = True
                    if not sending.held(exc.key, exc.hold):
                        return
                finally:
                    created = False
                    if self.capacity is not None:  # a shielded scope per chunk otherwise
                        with anyio.CancelScope(shield=True):
                            created = await self._created(record_key[0])
                    if created and self.capacity is not None:
                        admitted.keep(self.capacity)  # the watcher releases them
                        self.capacity.hold(record_key[0], key, admitted.ticket.days)
                    admitted.release()
                if not going:
                    sending.outcome = Outcome.STOPPED
                    return

        lanes = min(self.jobs.limit, len(chunks))
        if lanes == 1:
            await lane()
        else:
            async with anyio.create_task_group() as tg:
                for _ in range(lanes):
                    tg.start_soon(lane)
        return sending.outcome, sending.until

    def _record_key(self, planned: Chunk) -> str:
        """The key of the record that sends `planned` in this run's generation."""
        if self.generation:  # a deliberate rerun: its own records, beside the first
            return f"{planned.key}~g{self.generation}"
        return planned.key

    async def _hold(self, view: JobView, holding: list[ChunkRecord], planned: Chunk) -> Hold | None:
        """What keeps `planned` from being sent now, judged by the records the job was
        derived from (`holding`: those of them that could; no read in the common case).
        A record written since, by another run or replica, is caught where it matters:
        by the journal's mark in flight, in the same atomic step (`ChunkRunner._screen`).
        A record the view shows in doubt is read again before the chunk is held back for
        the run: it may have been settled since (say by the replica that sent it a
        moment before the view was read)."""
        key = self._record_key(planned)
        separation, clock = self.runner.separation, self.runner.clock
        hold = hold_among(holding, key, planned, separation=separation, now=clock.wall())
        if hold is None or hold.until is not None:
            return hold
        journal = self.runner.journal
        records = await journal_read(
            journal, journal.job_records, view.job.identity, planned.first_day, planned.last_day
        )
        return hold_among(records, key, planned, separation=separation, now=clock.wall())

    async def _send_one(self, planned: Chunk, record_key: list[str]) -> bool:
        """Propose one admitted chunk and take it as far as this run can."""
        runner = self.runner
        chunk = planned
        if self.generation:  # a deliberate rerun: its own records, beside the first
            chunk = dataclasses.replace(planned, key=self._record_key(planned))
        record_key[0] = chunk.key
        record = await journal_read(
            runner.journal,
            runner.journal.propose,
            chunk,
            plan=self.plan_name,
            timezone=self.timezone,
            generation=self.generation,
        )
        if not runner.needs_work(record):
            return not self.signal.is_set
        try:
            with runner.events.tracking(record.chunk):
                await runner.run(record)
        except StoppedError:
            return False
        runner.stats.held.pop(record.key, None)  # held before (its job parked), sent now
        return not self.signal.is_set

    async def _created(self, chunk_key: str) -> bool:
        """Whether the chunk's call may have created instances (they hold capacity)."""
        journal = self.runner.journal
        record = await journal_read(journal, journal.get, chunk_key)
        return record is not None and record.status not in (
            ChunkStatus.PENDING,
            ChunkStatus.FAILED,
        )

    async def _capped(self, ticket: Ticket, work: Callable[[], Awaitable[object]]) -> bool:
        """Run `work` in the job's lane (a check sends nothing: no other gate applies);
        False once a stop has been requested."""
        signal = self.signal
        if signal.is_set:
            return False
        try:
            admitted = await self._checking.enter(ticket)
        except StoppedError:
            return False
        try:
            await work()
        except StoppedError:
            return False
        finally:
            admitted.release()
        return not signal.is_set


__all__ = ["DayGuard", "JobDispatcher", "Screened"]
