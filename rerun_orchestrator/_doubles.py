"""Doubles of the executor's collaborators, shipped for tests (as httpx ships MockTransport).

`ScriptedClient` answers RerunJob from a script and records every call and the peak
concurrency; `ScriptedReconciler` decides reconciliations from a function; `Answers` makes
the attempts a script returns, each classified by the real error table, so that a double
carries the same facts (throttle, scope) as a real answer. Import them from
`rerun_orchestrator.testing`.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio

from ._clock import Clock
from .journal._model import ChunkRecord, ReconcileOutcome, Reconciliation
from .schedulerx._classify import classified
from .schedulerx._wire import ApiResponse, AttemptResult, RerunJobParams, Verdict


def _answer(response: ApiResponse, elapsed_ms: float) -> AttemptResult:
    return dataclasses.replace(classified(response), elapsed_ms=elapsed_ms)


class Answers:
    """RerunJob answers for scripts, classified by the real table."""

    @staticmethod
    def ok(n: int = 0) -> AttemptResult:
        return _answer(ApiResponse(200, f"REQ-OK-{n}", 200, True, None), 12.0)

    @staticmethod
    def throttled(retry_after_ms: int | None = None) -> AttemptResult:
        message = "Request was denied due to user flow control."
        response = ApiResponse(
            400, "REQ-THR", "Throttling.User", None, message, retry_after_ms=retry_after_ms
        )
        return _answer(response, 5.0)

    @staticmethod
    def too_fast() -> AttemptResult:
        """SchedulerX's business-level throttle: HTTP 200, Success=false, REQUEST_TOO_FAST."""
        return _answer(ApiResponse(200, "REQ-FAST", 41090004, False, "request too fast"), 5.0)

    @staticmethod
    def unavailable() -> AttemptResult:
        return _answer(ApiResponse(503, "REQ-503", "ServiceUnavailable", None, "try later"), 5.0)

    @staticmethod
    def internal_error() -> AttemptResult:
        return _answer(ApiResponse(500, "REQ-500", "InternalError", None, "boom"), 9.0)

    @staticmethod
    def lost() -> AttemptResult:
        return AttemptResult(
            Verdict.AMBIGUOUS, "read timeout after the request was written", None, 30.0
        )

    @staticmethod
    def refused() -> AttemptResult:
        return _answer(ApiResponse(200, "REQ-BIZ", 500, False, "jobId=7 is not existed"), 4.0)

    @staticmethod
    def group_unknown() -> AttemptResult:
        message = "groupid not exist groupId: g1 namespace: ns-1"
        return _answer(ApiResponse(200, "REQ-GRP", 500, False, message), 4.0)

    @staticmethod
    def skewed() -> AttemptResult:
        response = ApiResponse(400, "REQ-TS", "InvalidTimeStamp.Expired", None, "expired")
        return _answer(response, 3.0)


Script = Callable[[RerunJobParams, int], AttemptResult]


def _always_ok(params: RerunJobParams, n: int) -> AttemptResult:
    return Answers.ok(n)


def _always_absent(record: ChunkRecord) -> ReconcileOutcome:
    return ReconcileOutcome.ABSENT


@dataclass
class ScriptedClient:
    """Answers each RerunJob with `script(params, n)`, n = the 1-based attempt of that chunk
    in this client's life; records every call and the concurrency it saw."""

    clock: Clock
    script: Script = _always_ok
    latency: float = 0.05
    calls: list[tuple[float, RerunJobParams]] = field(default_factory=list)
    per_chunk: Counter[tuple[int, int, int]] = field(default_factory=Counter)
    in_flight: int = 0
    peak: int = 0
    job_in_flight: Counter[int] = field(default_factory=Counter)
    job_peak: int = 0
    hang: bool = False  # never answer (until cancelled): a call cut off by a hard stop

    async def rerun_job(self, params: RerunJobParams) -> AttemptResult:
        self.calls.append((self.clock.now(), params))
        chunk = (params.job_id, params.start_date, params.end_date)
        self.per_chunk[chunk] += 1
        self.in_flight += 1
        self.job_in_flight[params.job_id] += 1
        self.peak = max(self.peak, self.in_flight)
        self.job_peak = max(self.job_peak, self.job_in_flight[params.job_id])
        try:
            if self.hang:
                await anyio.sleep_forever()
            await self.clock.sleep(self.latency)
            return self.script(params, self.per_chunk[chunk])
        finally:
            self.in_flight -= 1
            self.job_in_flight[params.job_id] -= 1


@dataclass
class ScriptedReconciler:
    """Decides every reconciliation with `outcome(record)` after `settle` seconds; records
    what it was asked. A FOUND chunk gets one instance id, ``job_id * 1000 + 1``."""

    clock: Clock
    outcome: Callable[[ChunkRecord], ReconcileOutcome] = _always_absent
    settle: float = 10.0
    asked: list[tuple[float, ChunkRecord]] = field(default_factory=list)

    async def reconcile(self, record: ChunkRecord) -> Reconciliation:
        self.asked.append((self.clock.now(), record))
        await self.clock.sleep(self.settle)
        verdict = self.outcome(record)
        ids = (record.chunk.job_id * 1000 + 1,) if verdict is ReconcileOutcome.FOUND else ()
        return Reconciliation(verdict, f"scripted {verdict.value}", ids)
