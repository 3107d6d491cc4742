"""Doubles for the executor tests: a scripted client, a scripted reconciler, plans on disk.

Test modules cannot import a conftest (``--import-mode=importlib``), so the doubles travel
as fixtures that return their classes or factories.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator.journal import ChunkRecord, ReconcileOutcome, Reconciliation
from rerun_orchestrator.plan import Plan, load_plan
from rerun_orchestrator.schedulerx import (
    ApiResponse,
    AttemptResult,
    RerunJobParams,
    Verdict,
    classified,
)


def _answer(response: ApiResponse, elapsed_ms: float) -> AttemptResult:
    """A scripted answer, classified by the real table (so doubles carry its facts)."""
    return dataclasses.replace(classified(response), elapsed_ms=elapsed_ms)


def ok(n: int = 0) -> AttemptResult:
    return _answer(ApiResponse(200, f"REQ-OK-{n}", 200, True, None), 12.0)


def throttled(retry_after_ms: int | None = None) -> AttemptResult:
    response = ApiResponse(
        400,
        "REQ-THR",
        "Throttling.User",
        None,
        "Request was denied due to user flow control.",
        retry_after_ms=retry_after_ms,
    )
    return _answer(response, 5.0)


def too_fast() -> AttemptResult:
    """SchedulerX's business-level throttle: HTTP 200, Success=false, REQUEST_TOO_FAST."""
    return _answer(ApiResponse(200, "REQ-FAST", 41090004, False, "request too fast"), 5.0)


def unavailable() -> AttemptResult:
    return _answer(ApiResponse(503, "REQ-503", "ServiceUnavailable", None, "try later"), 5.0)


def internal_error() -> AttemptResult:
    return _answer(ApiResponse(500, "REQ-500", "InternalError", None, "boom"), 9.0)


def lost() -> AttemptResult:
    return AttemptResult(
        Verdict.AMBIGUOUS, "read timeout after the request was written", None, 30.0
    )


def refused() -> AttemptResult:
    return _answer(ApiResponse(200, "REQ-BIZ", 500, False, "jobId=7 is not existed"), 4.0)


def group_unknown() -> AttemptResult:
    message = "groupid not exist groupId: g1 namespace: ns-1"
    return _answer(ApiResponse(200, "REQ-GRP", 500, False, message), 4.0)


def skewed() -> AttemptResult:
    return _answer(ApiResponse(400, "REQ-TS", "InvalidTimeStamp.Expired", None, "expired"), 3.0)


Script = Callable[[RerunJobParams, int], AttemptResult]


@dataclass
class ScriptedClient:
    """Answers each RerunJob with `script(params, n)`, n = the 1-based attempt of that chunk
    in this client's life; records every call and checks the concurrency caps."""

    clock: FakeClock
    script: Script = lambda params, n: ok(n)
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
    """Decides every reconciliation with `outcome(record)`; records what it was asked."""

    clock: FakeClock
    outcome: Callable[[ChunkRecord], ReconcileOutcome] = lambda record: ReconcileOutcome.ABSENT
    settle: float = 10.0
    asked: list[tuple[float, ChunkRecord]] = field(default_factory=list)

    async def reconcile(self, record: ChunkRecord) -> Reconciliation:
        self.asked.append((self.clock.now(), record))
        await self.clock.sleep(self.settle)
        verdict = self.outcome(record)
        ids = (record.chunk.job_id * 1000 + 1,) if verdict is ReconcileOutcome.FOUND else ()
        return Reconciliation(verdict, f"scripted {verdict.value}", ids)


@dataclass
class Doubles:
    ok = staticmethod(ok)
    throttled = staticmethod(throttled)
    too_fast = staticmethod(too_fast)
    group_unknown = staticmethod(group_unknown)
    unavailable = staticmethod(unavailable)
    internal_error = staticmethod(internal_error)
    lost = staticmethod(lost)
    refused = staticmethod(refused)
    skewed = staticmethod(skewed)
    Client = ScriptedClient
    Reconciler = ScriptedReconciler


@pytest.fixture
def doubles() -> type[Doubles]:
    return Doubles


@pytest.fixture
def write_plan(tmp_path: Path) -> Callable[..., Plan]:
    """Write and load a plan: `jobs` x one window of `days` days cut in `chunk_days`."""

    def write(
        *,
        name: str = "t",
        jobs: list[Any] | None = None,
        days: int = 28,
        chunk_days: int = 7,
        start: str = "2024-01-01",
        execution: dict[str, Any] | None = None,
        targets: list[dict[str, Any]] | None = None,
    ) -> Plan:
        end = (date.fromisoformat(start) + timedelta(days=days - 1)).isoformat()
        plan = {
            "version": 1,
            "name": name,
            "timezone": "Asia/Shanghai",
            "region": "cn-hangzhou",
            "namespace": "ns-1",
            "group": "g1",
            "data_time": "10:00:00",
            "chunk_days": chunk_days,
            "targets": targets
            or [{"jobs": jobs or [1, 2, 3], "windows": [{"start": start, "end": end}]}],
            "execution": {"rate": "10/s", "concurrency": 4, "max_attempts": 4, **(execution or {})},
        }
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(plan, sort_keys=False))
        return load_plan(path)

    return write


def attempts_by_chunk(logs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in logs:
        if entry["event"] == "rerun.attempt":
            out[entry["chunk"]].append(entry)
    return out


@pytest.fixture
def attempts_of() -> Callable[[list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    return attempts_by_chunk
