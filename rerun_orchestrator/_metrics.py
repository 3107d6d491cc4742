"""Metrics through OpenTelemetry: instruments fed by the run's events, when the API is there.

``pip install 'rerun-orchestrator[otel]'`` brings `opentelemetry-api` only. The instruments
are made from the API's global meter provider: until the host installs an SDK (a
`MeterProvider` with a reader/exporter), the API's no-op provider records nothing, and
without the API package nothing here even runs. Names follow OpenTelemetry's conventions
(copied, rather than depending on the pinned semantic-conventions package):

    rerun_orchestrator.call.duration    histogram, s   by rpc.method, rerun.outcome, error.type
                                        (RerunJob from the run's events; GetJobInstanceList
                                        from `MeteredInstanceLister`, an account's reconciler)
    rerun_orchestrator.attempts         counter        by rpc.method, rerun.outcome, error.type
    rerun_orchestrator.throttles        counter        by rpc.method, error.type
    rerun_orchestrator.backoff.delay    histogram, s   waits before retries
    rerun_orchestrator.rate             gauge, 1/s     the permitted RerunJob rate, by rerun.plan
    rerun_orchestrator.chunks           gauge          chunks of running plans by rerun.state
    rerun_orchestrator.chunks.settled   counter        by rerun.state
    rerun_orchestrator.days.settled     counter        (job, day) pairs settled, by rerun.state
    rerun_orchestrator.reconciliations  counter        by rerun.outcome

Every series also carries ``rerun.plan`` (and ``rerun.account`` when the run has one). Job
ids, chunk keys and RequestIds never become attributes (one series each would be
unbounded); the logs carry them.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .run._events import RunEvent
    from .run._limiter import Pacer
    from .run._result import RunStats

try:
    from opentelemetry import metrics as _otel
except ImportError:  # the [otel] extra is not installed: no metrics at all
    _otel = None  # type: ignore[assignment]

from . import __version__

METER_NAME = "rerun_orchestrator"
RERUN_JOB = "RerunJob"
GET_JOB_INSTANCE_LIST = "GetJobInstanceList"


@dataclass(eq=False)
class _LiveRun:
    plan: str
    account: str | None
    stats: RunStats
    pacer: Pacer

    def attributes(self) -> dict[str, str]:
        base = {"rerun.plan": self.plan}
        if self.account is not None:
            base["rerun.account"] = self.account
        return base


class _Instruments:
    """The instruments, made once from the global meter (proxies until an SDK is set)."""

    def __init__(self, meter: Any) -> None:
        self.duration = meter.create_histogram(
            "rerun_orchestrator.call.duration", unit="s", description="API call duration"
        )
        self.attempts = meter.create_counter(
            "rerun_orchestrator.attempts", unit="{attempt}", description="HTTP attempts"
        )
        self.throttles = meter.create_counter(
            "rerun_orchestrator.throttles", unit="{throttle}", description="Throttling answers"
        )
        self.backoff = meter.create_histogram(
            "rerun_orchestrator.backoff.delay", unit="s", description="Waits before retries"
        )
        self.settled = meter.create_counter(
            "rerun_orchestrator.chunks.settled", unit="{chunk}", description="Chunks settled"
        )
        self.days = meter.create_counter(
            "rerun_orchestrator.days.settled", unit="{day}", description="(job, day) settled"
        )
        self.instances = meter.create_counter(
            "rerun_orchestrator.instances",
            unit="{instance}",
            description="Rerun instance status changes seen by the watcher, by new status",
        )
        self.reconciliations = meter.create_counter(
            "rerun_orchestrator.reconciliations",
            unit="{chunk}",
            description="Doubtful chunks checked with GetJobInstanceList",
        )
        meter.create_observable_gauge(
            "rerun_orchestrator.rate",
            callbacks=[_observe_rates],
            unit="1/s",
            description="RerunJob calls per second permitted now",
        )
        meter.create_observable_gauge(
            "rerun_orchestrator.chunks",
            callbacks=[_observe_chunks],
            unit="{chunk}",
            description="Chunks of running plans by state",
        )


_live: weakref.WeakSet[_LiveRun] = weakref.WeakSet()
_instruments: _Instruments | None = None


def _get() -> _Instruments | None:
    global _instruments  # noqa: PLW0603 - one set of instruments per process, as OTel wants
    if _otel is None:
        return None
    if _instruments is None:
        _instruments = _Instruments(_otel.get_meter(METER_NAME, __version__))
    return _instruments


def _observe_rates(_options: Any) -> Iterable[Any]:
    assert _otel is not None
    return [_otel.Observation(run.pacer.rate, run.attributes()) for run in list(_live)]


def _observe_chunks(_options: Any) -> Iterable[Any]:
    assert _otel is not None
    out = []
    for run in list(_live):
        counts = run.stats.counts()
        for state in ("succeeded", "failed", "unknown", "pending"):
            out.append(
                _otel.Observation(
                    getattr(counts, state), {**run.attributes(), "rerun.state": state}
                )
            )
    return out


class RunMetrics:
    """One run's feed into the instruments: its events, its live stats and pacer."""

    def __init__(self, plan: str, account: str | None) -> None:
        self._attributes = {"rerun.plan": plan}
        if account is not None:
            self._attributes["rerun.account"] = account
        self._plan, self._account = plan, account
        self._made: dict[tuple[Any, ...], dict[str, str]] = {}
        self._instruments = _get()

    @contextmanager
    def live(self, stats: RunStats, pacer: Pacer) -> Iterator[None]:
        """While the run runs, the gauges read its stats and pacer."""
        if self._instruments is None:
            yield
            return
        run = _LiveRun(self._plan, self._account, stats, pacer)
        _live.add(run)
        try:
            yield
        finally:
            _live.discard(run)

    def backoff(self, seconds: float) -> None:
        if self._instruments is not None and seconds > 0:
            self._instruments.backoff.record(seconds, self._attributes)

    def observe(self, event: RunEvent) -> None:
        """Count what `event` says (a no-op without the OpenTelemetry API)."""
        instruments = self._instruments
        if instruments is None:
            return
        kinds = _event_kinds()
        if isinstance(event, kinds.attempt):
            call = self._series(
                ("call", event.outcome, event.code),
                {"rpc.method": RERUN_JOB, "rerun.outcome": event.outcome},
                event.code,
            )
            instruments.attempts.add(1, call)
            instruments.duration.record(event.elapsed_ms / 1000, call)
        elif isinstance(event, kinds.throttled):
            throttle = self._series(("throttle", event.code), {"rpc.method": RERUN_JOB}, event.code)
            instruments.throttles.add(1, throttle)
        elif isinstance(event, kinds.finished):
            state = self._series(("state", event.status), {"rerun.state": event.status})
            instruments.settled.add(1, state)
            if event.days is not None:
                instruments.days.add(event.days, state)
        elif isinstance(event, kinds.reconciled):
            instruments.reconciliations.add(
                1, self._series(("reconciled", event.outcome), {"rerun.outcome": event.outcome})
            )
        elif isinstance(event, kinds.instance):
            instruments.instances.add(
                1,
                self._series(("instance", event.status), {"rerun.instance.status": event.status}),
            )

    def _series(
        self, key: tuple[Any, ...], extra: dict[str, str], code: str | int | None = None
    ) -> dict[str, str]:
        """The attributes of one series, made once: two events a call would otherwise build
        the same dictionaries over and over. Never mutated once handed out."""
        attributes = self._made.get(key)
        if attributes is None:
            attributes = {**self._attributes, **extra}
            if code is not None:
                attributes["error.type"] = str(code)
            self._made[key] = attributes
        return attributes


@dataclass(frozen=True)
class _EventKinds:
    attempt: type[Any]
    throttled: type[Any]
    finished: type[Any]
    reconciled: type[Any]
    instance: type[Any]


@functools.cache
def _event_kinds() -> _EventKinds:
    from .run._events import (  # noqa: PLC0415 - run imports this module
        AttemptFinished,
        ChunkFinished,
        ChunkReconciled,
        InstanceChanged,
        Throttled,
    )

    return _EventKinds(AttemptFinished, Throttled, ChunkFinished, ChunkReconciled, InstanceChanged)


class MeteredInstanceLister:
    """A client whose GetJobInstanceList calls are timed into ``call.duration``.

    `Account.reconciler` wraps its client in one, so that reconciliation and guard
    queries show next to the RerunJob calls (``rerun.outcome`` succeeded or failed).
    """

    def __init__(self, client: Any, account: str | None) -> None:
        self._client = client
        self._attributes = {"rpc.method": GET_JOB_INSTANCE_LIST}
        if account is not None:
            self._attributes["rerun.account"] = account

    async def get_job_instance_list(self, query: Any) -> Any:
        instruments = _get()
        if instruments is None:
            return await self._client.get_job_instance_list(query)
        import time  # noqa: PLC0415

        started = time.perf_counter()
        attributes = {**self._attributes, "rerun.outcome": "succeeded"}
        try:
            return await self._client.get_job_instance_list(query)
        except Exception as exc:
            attributes["rerun.outcome"] = "failed"
            code = getattr(getattr(exc, "result", None), "code", None)
            attributes["error.type"] = str(code) if code is not None else type(exc).__name__
            raise
        finally:
            instruments.duration.record(time.perf_counter() - started, attributes)
            instruments.attempts.add(1, attributes)


__all__ = ["METER_NAME", "MeteredInstanceLister", "RunMetrics"]
