"""One chunk, from its journal state to a settled outcome: attempts, retries, reconciliation.

The order of writes is what makes a crash harmless (each step names its failpoint):

1. pass the attempt's gates (`_admission`: a concurrency slot, then a rate token; a
   graceful stop may end these waits);
2. mark the chunk in flight in the journal and await its durability, *then* send (so a
   crash after the send leaves "in flight", which the next run reconciles instead of
   resending); concurrent workers' marks share one commit (the journal's group commit).
   The mark is refused, nothing sent, if another record of the chunk's days holds it
   (`_separation`: checked by the journal in the same atomic step, `HeldError`);
3. record the outcome, then log the attempt.

tenacity runs the attempt loop with our wait (full jitter from the injected `Random`) and
our sleep (the injected clock, cut short by a stop); `_policy` decides what each verdict
means. Transient trouble never fails a chunk ("nothing skipped"): `max_attempts` bounds one
round of attempts, after which the chunk stays pending, pauses and goes again; a spent
retry budget pauses retries behind the `RetryGate` until a probe shows the service
working. Only a refusal of the chunk fails it; a refusal of its whole location stops that
location (`LocationBreaker`); a refusal of who is asking halts the run. The `StallWatch`
ends a run in which no chunk has settled for the stall limit. An ambiguous answer is never
resent before the `Reconciler` has shown that the call did not apply (`_doubt`); one
attempt on the wire, and what it tells the pacer, is `_attempt`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_result

from .._clock import Clock
from .._failpoints import failpoint
from ..journal._model import ChunkRecord, ChunkStatus, ReconcileOutcome
from ..journal._store import Journal
from ..plan._model import Chunk
from ..schedulerx._wire import AttemptResult, Scope, Verdict
from ._admission import Admission, Gate, RateGate, SlotGate, Ticket
from ._attempt import RerunClient, pace_by, send
from ._backoff import Backoff, RetryBudget
from ._breaker import LocationBreaker
from ._concurrency import ConcurrencyLimiter
from ._doubt import ChunkReconciler, ask, is_doubtful, status_after
from ._events import EventSink
from ._gate import RetryGate, Turn
from ._limiter import Pacer
from ._policy import ON_VERDICT, Action, halts_the_run
from ._report_events import ChunkReporter
from ._result import RunStats
from ._separation import DEFAULT_SEPARATION, HeldError, hold_among
from ._stall import StallWatch
from ._stop import StoppedError, StopSignal
from ._streams import JobKey

_log = structlog.get_logger("rerun_orchestrator.run")

# The pause of a chunk between two rounds of `max_attempts` transient answers: equal
# jitter over a ceiling that doubles per round, from ROUND_PAUSE_BASE to ROUND_PAUSE_CAP.
ROUND_PAUSE_BASE = 20.0
ROUND_PAUSE_CAP = 300.0


@dataclass(slots=True)
class _ChunkState:
    chunk: Chunk
    status: ChunkStatus  # as the journal holds it now
    attempts: int = 0  # in this round of this run
    sent: int = 0  # in this run, every round
    rounds: int = 0  # rounds of `max_attempts` transient answers so far
    resigned: bool = False
    gated: bool = False  # the next retry waits for the retry gate
    probe: bool = False  # the attempt on the wire is the gate's probe


@dataclass(frozen=True, slots=True)
class _Step:
    action: Action
    retry: bool = False
    final: ChunkStatus | None = None
    requeue: bool = False  # transient trouble outlasted this round: pending, pause, again


@dataclass(slots=True)
class ChunkRunner:
    """Settles chunks; one per run, shared by every worker."""

    client: RerunClient
    journal: Journal
    reconciler: ChunkReconciler | None
    pacer: Pacer
    slots: ConcurrencyLimiter
    budget: RetryBudget
    backoff: Backoff
    rng: random.Random
    clock: Clock
    events: EventSink
    stop: StopSignal
    stats: RunStats
    max_attempts: int
    retry_failed: bool = False
    gate: RetryGate | None = None  # default: one over `budget`
    locations: LocationBreaker = field(default_factory=LocationBreaker)
    stall: StallWatch | None = None  # default: the documented stall limit
    round_pause: Backoff = field(default_factory=lambda: Backoff(ROUND_PAUSE_BASE, ROUND_PAUSE_CAP))
    # more gates each attempt passes after its slot, before its token (run windows)
    gates: Sequence[Gate] = ()
    # a chunk is sent no sooner than this after another record of its days was answered
    separation: float = DEFAULT_SEPARATION
    _sendable: frozenset[ChunkStatus] = field(init=False)
    _admission: Admission = field(init=False)
    _gate: RetryGate = field(init=False)
    _stall: StallWatch = field(init=False)
    _report: ChunkReporter = field(init=False)
    _last_trouble: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        sendable = {ChunkStatus.PENDING}
        if self.retry_failed:
            sendable.add(ChunkStatus.FAILED)
        self._sendable = frozenset(sendable)
        # per attempt: a slot, then a token (never spent while a slot is awaited)
        gates = [SlotGate(self.slots), *self.gates, RateGate(self.pacer)]
        self._admission = Admission(gates, self.stop)
        self._gate = self.gate or RetryGate(self.budget, self.clock)
        self._stall = self.stall or StallWatch(self.clock)
        self._report = ChunkReporter(self.events, self.stats, self._stall, self.locations)

    def needs_work(self, record: ChunkRecord) -> bool:
        """Whether this run has anything to do for a chunk in this state."""
        return record.status in self._sendable or record.status in (
            ChunkStatus.IN_FLIGHT,
            ChunkStatus.UNKNOWN,
        )

    async def check(self, record: ChunkRecord) -> ReconcileOutcome:
        """Reconcile a doubtful chunk and record the verdict, without resending it: the
        executor then derives what to send from the ledger's days."""
        return await self._reconcile(_ChunkState(record.chunk, record.status), record)

    async def run(self, record: ChunkRecord) -> None:
        """Take one chunk as far as this run can. Raises `StoppedError` on a graceful stop
        (the journal then holds a state the next run resumes from), `HeldError` if another
        record of its days holds it back (nothing sent)."""
        state = _ChunkState(record.chunk, record.status)
        if self.locations.hold_back(record.chunk):
            return  # its location refuses every chunk: not sent, stays as it is
        if is_doubtful(record, retry_failed=self.retry_failed):
            # An earlier attempt may have applied: find out before anything else.
            settled = await self._reconcile(state, record)
            if settled is not ReconcileOutcome.ABSENT:
                return
        elif record.status not in self._sendable:
            return
        step = await self._round(state)
        while step.requeue:  # transient trouble outlasted a round: pause, then another
            state.rounds += 1
            state.attempts = 0
            pause = self.round_pause.ceiling(state.rounds)
            await self._sleep(pause / 2 + self.rng.random() * pause / 2)
            if self.locations.hold_back(record.chunk):
                return
            step = await self._round(state)

    async def _round(self, state: _ChunkState) -> _Step:
        """Up to `max_attempts` attempts. Most chunks succeed at once: the first attempt runs
        bare, and tenacity takes over (with that attempt's wait) only for a retry."""
        first = await self._step(state)
        if not first.retry:
            return first
        await self._sleep(self._delay(first, state.attempts))
        retrying = AsyncRetrying(
            sleep=self._sleep,
            wait=self._wait,
            retry=retry_if_result(lambda step: bool(step.retry)),
            reraise=True,
        )
        step: _Step = await retrying(self._step, state)
        return step

    # -- one attempt -------------------------------------------------------------------

    async def _step(self, state: _ChunkState) -> _Step:
        chunk = state.chunk
        if state.gated:
            await self._await_gate(state)
        admitted = await self._admission.enter(Ticket(JobKey.of(chunk), chunk.days))
        try:
            sent_at = self.clock.now()
            failpoint("before_mark_in_flight")
            record = await self.journal.mark_in_flight(
                chunk.key, self.clock.wall(), screen=self._screen
            )
            failpoint("after_mark_in_flight")
            # Counted once marked: a mark the ledger or the separation refuses sends nothing
            # and spends neither an attempt nor the retry budget.
            state.attempts += 1
            state.sent += 1
            if state.sent == 1:
                self.budget.first_attempt()
            else:
                self.stats.retries += 1
            self._moved(state, ChunkStatus.IN_FLIGHT)
            self.stats.attempts += 1  # counted when sent: a call cut off by a stop counts too
            self.stats.on_wire += 1
            try:
                result = await send(self.client, chunk)
            finally:
                self.stats.on_wire -= 1
            failpoint("after_response")
        finally:
            admitted.release()
        pace_by(
            self.pacer, result, chunk=chunk, sent_at=sent_at, events=self.events, stats=self.stats
        )
        healthy = result.verdict in (Verdict.SUCCEEDED, Verdict.PERMANENT)
        self._gate.answered(healthy=healthy, probe=state.probe)
        state.probe = False
        return await self._settle(state, record, result)

    async def _await_gate(self, state: _ChunkState) -> None:
        """Wait for the retry gate: the budget again, or this retry's turn to probe."""
        while True:
            self._check_stall()
            with self.stop.waiting():
                turn = await self._gate.turn()
            if turn is not Turn.WAIT:
                state.probe = turn is Turn.PROBE
                state.gated = False
                return

    async def _settle(
        self, state: _ChunkState, record: ChunkRecord, result: AttemptResult
    ) -> _Step:
        action = ON_VERDICT[result.verdict]
        if action is Action.RESIGN and state.resigned:
            action = Action.FAIL  # re-signing did not help: clock skew or keys need a human
        if action is Action.SUCCEED:
            done = self._record(state, ChunkStatus.SUCCEEDED, result, reason=None)
            self._report.attempt(done, result, action, granted=False)
            self._report.finished(done)
            return _Step(action, final=ChunkStatus.SUCCEEDED)
        if action is Action.FAIL and halts_the_run(result):
            return self._halt(state, result)
        if action is Action.FAIL:
            done = self._record(state, ChunkStatus.FAILED, result, reason=result.reason)
            self._report.attempt(done, result, action, granted=False)
            self._report.finished(done)
            if result.scope is Scope.LOCATION:
                self._report.location_refused(state.chunk, result)
            return _Step(action, final=ChunkStatus.FAILED)
        if action is Action.RECONCILE:
            doubt = self._record(state, ChunkStatus.UNKNOWN, result, reason=result.reason)
            self._report.attempt(doubt, result, action, granted=False)
            settled = await self._reconcile(state, doubt)
            if settled is not ReconcileOutcome.ABSENT:
                return _Step(action)
            action = Action.BACKOFF  # proven not applied: a retry like any other
        return self._retry(state, result, action)

    def _retry(self, state: _ChunkState, result: AttemptResult, action: Action) -> _Step:
        """Transient trouble: the chunk stays pending and goes again, now or later."""
        self._last_trouble = result.reason
        if state.attempts >= self.max_attempts:
            reason = (
                f"{result.reason}; still failing after {state.attempts} attempts "
                "(max_attempts): sent again in this run when the service allows"
            )
            step = _Step(action, requeue=True, final=ChunkStatus.PENDING)
        elif action is Action.RESIGN:
            state.resigned = True  # once per chunk (see _settle); not a load-adding retry
            reason, step = result.reason, _Step(action, retry=True)
        elif self._gate.try_pass():
            reason, step = result.reason, _Step(action, retry=True)
        else:
            if self._gate.openings == 1 and not state.gated:
                self._report.retries_paused(result, self._gate.openings)
            state.gated = True
            reason = (
                f"{result.reason}; retry budget of this run spent ({self.budget.retries} "
                f"retries for {self.budget.first_attempts} first attempts): retries paused "
                "until the service recovers"
            )
            step = _Step(action, retry=True)
        if result.verdict is not Verdict.AMBIGUOUS:
            pending = self._record(state, ChunkStatus.PENDING, result, reason=reason)
            self._report.attempt(pending, result, action, granted=True)
        return step

    def _check_stall(self) -> None:
        """Halt the run (and raise `StoppedError`) once no chunk has settled for too long."""
        if not self._stall.expired():
            return
        if self.stats.halted is None:
            self.stats.halted = self._stall.reason(self._last_trouble)
        self.stop.set()
        raise StoppedError

    def _halt(self, state: _ChunkState, result: AttemptResult) -> _Step:
        """Stop the run: the server refused our credentials or account, not this chunk."""
        reason = (
            f"the server refused this run's credentials or account ({result.code}: "
            f"{result.message or result.reason}); nothing was applied: fix it and run again"
        )
        pending = self._record(state, ChunkStatus.PENDING, result, reason=reason)
        self._report.attempt(pending, result, Action.FAIL, granted=False)
        if self.stats.halted is None:
            self.stats.halted = reason
        self.stop.set()
        return _Step(Action.FAIL, final=ChunkStatus.PENDING)

    def _record(
        self, state: _ChunkState, status: ChunkStatus, result: AttemptResult, *, reason: str | None
    ) -> ChunkRecord:
        success = status is ChunkStatus.SUCCEEDED
        record = self.journal.record_outcome(
            state.chunk.key,
            status,
            request_id=result.request_id,
            code=None if success else result.code,
            message=None if success else result.message,
            reason=reason,
        )
        failpoint("after_outcome")
        self._moved(state, status)
        return record

    def _moved(self, state: _ChunkState, status: ChunkStatus) -> None:
        self.stats.moved(state.status, status)
        state.status = status

    def _screen(self, new: ChunkRecord, others: Sequence[ChunkRecord]) -> Exception | None:
        """The separation rule, asked by the journal atomically with each mark in flight
        (against the job's records as the mark reads them): another record of the days
        written since the dispatcher looked, by another run or replica, refuses the mark."""
        now = new.attempt_started_at if new.attempt_started_at is not None else self.clock.wall()
        hold = hold_among(others, new.key, new.chunk, separation=self.separation, now=now)
        return None if hold is None else HeldError(new.key, hold)

    # -- reconciliation ----------------------------------------------------------------

    async def _reconcile(self, state: _ChunkState, record: ChunkRecord) -> ReconcileOutcome:
        """Settle a doubtful chunk; its journal state afterwards follows the outcome.

        Raises `StoppedError` if a stop cuts the wait short (the chunk stays doubtful).
        """
        verdict = await ask(self.reconciler, record, self.stop)
        self._report.reconciled(record.chunk, verdict)
        status = status_after(verdict)
        success = status is ChunkStatus.SUCCEEDED
        settled = self.journal.record_outcome(
            record.key,
            status,
            code=None if success else record.code,
            message=None if success else record.message,
            reason=verdict.reason,
            instance_ids=verdict.instance_ids,
        )
        self._moved(state, status)
        if status is not ChunkStatus.PENDING:
            self._report.finished(settled)
        return verdict.outcome

    # -- tenacity hooks ----------------------------------------------------------------

    def _wait(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        assert outcome is not None
        step: _Step = outcome.result()
        state: _ChunkState = retry_state.args[0]
        return self._delay(step, state.attempts)

    def _delay(self, step: _Step, attempts: int) -> float:
        """The wait before the retry that follows attempt number `attempts` (in this run)."""
        if step.action is Action.RESIGN:
            return 0.0
        return self.backoff.delay(attempts, self.rng)

    async def _sleep(self, seconds: float) -> None:
        self._check_stall()
        self.events.backoff(seconds)
        await self.stop.sleep(self.clock.sleep, seconds)


__all__ = ["ChunkRunner", "StoppedError"]
