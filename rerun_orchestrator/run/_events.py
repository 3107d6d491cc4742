"""What a run reports as it goes: typed events, logged through structlog and handed to callers.

Every event is a frozen value with a namespaced `name` (the structlog event) and flat
`fields()`. `EventSink` does both deliveries: one structlog call per event on the
``rerun_orchestrator.run`` logger (the library never configures logging, so an embedding
service's structlog setup decides where that goes), then the caller's `on_event` callback.

Events and their log names:

    rerun.run.started       RunStarted       the plan, its size, what the journal already holds
    rerun.attempt           AttemptFinished  exactly one per HTTP attempt (the contract's keys)
    rerun.throttle          Throttled        a Throttling* answer and the rate it left
    rerun.chunk.reconciled  ChunkReconciled  what GetJobInstanceList showed for a doubtful chunk
    rerun.chunk.succeeded   ChunkFinished    a chunk settled (status in the name)
    rerun.chunk.failed
    rerun.chunk.unknown
    rerun.location.stopped  LocationStopped  a location-wide refusal: nothing more sent there
    rerun.retry.paused      RetryGateOpened  the retry budget is spent: retries pause, probe
    rerun.instance          InstanceChanged  a day's rerun instance changed status (debug; warning
                                             when failed, rejected or unknown: a person must look)
    rerun.watch.finished    WatchFinished    every accepted day's instance ended (or the watch
                                             stopped): days by instance status, the exit code
    rerun.stop.requested    StopRequested    dispatching stops; calls in flight finish
    rerun.run.finished      RunFinished      counts and exit code

No event carries a secret: chunks, codes, RequestIds and the server's messages (which the
client has already scrubbed of security tokens) only.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar

from .._logs import get_logger
from ..plan._model import Chunk
from ..plan._rate import format_rate
from ._policy import AttemptOutcome

if TYPE_CHECKING:
    from .._metrics import RunMetrics
    from ._result import RunResult

_log = get_logger("rerun_orchestrator.run")


@dataclass(frozen=True, slots=True)
class RunEvent:
    """Base of every run event: which run (`run_id`) of which plan it belongs to.

    The executor's `EventSink` stamps both on every event it delivers.
    """

    name: ClassVar[str] = "rerun.event"
    level: ClassVar[str] = "info"

    run_id: str = field(default="", kw_only=True)
    plan: str = field(default="", kw_only=True)

    def fields(self) -> dict[str, Any]:
        """The flat key/values logged with the event name."""
        return {name: getattr(self, name) for name in _field_names(type(self))}

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-ready values (a UI's websocket, a queue): its name, then
        `fields()` with dates as ISO strings and tuples as lists."""
        return {"event": event_name(self), **{k: _jsonable(v) for k, v in self.fields().items()}}


@dataclass(frozen=True, slots=True)
class ChunkEvent(RunEvent):
    """An event about one chunk: where it runs and which days it holds.

    The sink fills these in from the chunk being worked on (`EventSink.tracking`).
    """

    region: str | None = field(default=None, kw_only=True)
    namespace: str | None = field(default=None, kw_only=True)
    group_id: str | None = field(default=None, kw_only=True)
    first_day: str | None = field(default=None, kw_only=True)  # ISO date, the plan's zone
    last_day: str | None = field(default=None, kw_only=True)
    days: int | None = field(default=None, kw_only=True)


@dataclass(frozen=True, slots=True)
class RunStarted(RunEvent):
    name: ClassVar[str] = "rerun.run.started"

    plan: str
    total: int
    succeeded: int  # already, in earlier runs
    failed: int
    unknown: int
    pending: int
    rate: float  # calls per second, the ceiling
    concurrency: int
    retry_failed: bool

    def fields(self) -> dict[str, Any]:
        return with_rate_text(RunEvent.fields(self), "rate")


@dataclass(frozen=True, slots=True)
class AttemptFinished(ChunkEvent):
    """One HTTP attempt: the contract's ``rerun.attempt`` line, plus the reason in words."""

    name: ClassVar[str] = "rerun.attempt"

    chunk: str
    job_id: int
    attempt: int  # 1-based, over every run of the journal
    request_id: str | None
    http_status: int | None
    code: str | int | None
    outcome: AttemptOutcome
    elapsed_ms: float
    reason: str

    def fields(self) -> dict[str, Any]:
        values = RunEvent.fields(self)
        values["elapsed_ms"] = round(self.elapsed_ms, 1)
        return values


@dataclass(frozen=True, slots=True)
class Throttled(ChunkEvent):
    name: ClassVar[str] = "rerun.throttle"
    level: ClassVar[str] = "warning"

    chunk: str
    code: str | int | None
    retry_after_ms: int | None
    rate_before: float
    rate: float  # calls per second permitted now

    def fields(self) -> dict[str, Any]:
        return with_rate_text(RunEvent.fields(self), "rate_before", "rate")


@dataclass(frozen=True, slots=True)
class ChunkReconciled(ChunkEvent):
    name: ClassVar[str] = "rerun.chunk.reconciled"

    chunk: str
    job_id: int
    outcome: str  # found | absent | undecidable
    reason: str
    instance_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ChunkFinished(ChunkEvent):
    """A chunk reached succeeded, failed or unknown in this run."""

    name: ClassVar[str] = "rerun.chunk"

    chunk: str
    job_id: int
    status: str  # succeeded | failed | unknown
    attempts: int
    request_id: str | None
    code: str | int | None
    message: str | None
    reason: str | None
    instance_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class InstanceChanged(RunEvent):
    """What the watcher saw of one day's rerun instance: a new status."""

    name: ClassVar[str] = "rerun.instance"
    level: ClassVar[str] = "debug"

    job_id: int
    day: str  # YYYY-MM-DD
    instance_id: int | None
    status: str  # waiting | running | success | failed | rejected | stopped | unknown
    chunk: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class WatchFinished(RunEvent):
    """The last event of a watched run: after `rerun.run.finished`, which ends the sending."""

    name: ClassVar[str] = "rerun.watch.finished"

    instances: dict[str, int]
    exit_code: int


@dataclass(frozen=True, slots=True)
class StopRequested(RunEvent):
    name: ClassVar[str] = "rerun.stop.requested"
    level: ClassVar[str] = "warning"

    reason: str


@dataclass(frozen=True, slots=True)
class LocationStopped(RunEvent):
    """A refusal every chunk of one location would get: nothing more is sent there."""

    name: ClassVar[str] = "rerun.location.stopped"
    level: ClassVar[str] = "warning"

    region: str
    namespace: str
    group_id: str
    code: str | int | None
    reason: str
    refused: int


@dataclass(frozen=True, slots=True)
class RetryGateOpened(RunEvent):
    """The retry budget is spent: retries wait for a cooldown, then one probes."""

    name: ClassVar[str] = "rerun.retry.paused"
    level: ClassVar[str] = "warning"

    reason: str
    openings: int


@dataclass(frozen=True, slots=True)
class RunFinished(RunEvent):
    name: ClassVar[str] = "rerun.run.finished"

    result: RunResult

    def fields(self) -> dict[str, Any]:
        return {"run_id": self.run_id, **self.result.to_json()}


_FIELD_NAMES: dict[type[RunEvent], tuple[str, ...]] = {}


def _field_names(cls: type[RunEvent]) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def event_name(event: RunEvent) -> str:
    """The structlog event name (a settled chunk's carries its status)."""
    if isinstance(event, ChunkFinished):
        return f"{event.name}.{event.status}"
    return event.name


def event_level(event: RunEvent) -> str:
    if isinstance(event, ChunkFinished) and event.status != "succeeded":
        return "warning"
    if isinstance(event, InstanceChanged) and event.status in ("failed", "rejected", "unknown"):
        return "warning"
    return event.level


class EventSink:
    """Stamps each event with the run, logs it, then hands it to `on_event` (if any).

    A callback that raises is a bug in the caller and stops the run, like any other bug.
    """

    def __init__(
        self,
        on_event: Callable[[RunEvent], None] | None = None,
        *,
        run_id: str = "",
        plan: str = "",
        metrics: RunMetrics | None = None,
    ) -> None:
        self._on_event = on_event
        # Bound once per run, with structlog's configuration of that moment: the lazy
        # module-level proxy would rebuild the bound logger on every event (the CLI keeps
        # structlog's logger cache off because it reconfigures).
        self._log = _log.bind()
        self._metrics = metrics
        self._run = {"run_id": run_id, "plan": plan}
        # a tracked chunk's stamps, made once: a chunk's two or more events share them
        self._chunks: dict[str, dict[str, Any]] = {}

    @contextmanager
    def tracking(self, chunk: Chunk) -> Iterator[None]:
        """While a chunk is worked on, its events carry its location and days."""
        self._chunks[chunk.key] = {**self._run, **_place(chunk)}
        try:
            yield
        finally:
            self._chunks.pop(chunk.key, None)

    def emit(self, event: RunEvent) -> None:
        """Stamp `event` with the run (and its chunk's location and days), then deliver it."""
        # dataclasses.replace, without its per-call walk of the fields (every event field
        # is an __init__ argument)
        self._stamped(
            type(event), {name: getattr(event, name) for name in _field_names(type(event))}
        )

    def emit_chunk(self, kind: type[ChunkEvent], /, **values: Any) -> None:
        """`emit(kind(**values))` for an event of the chunk `values["chunk"]`, made once
        with its stamps: every call has two of these, so they skip the copy."""
        self._stamped(kind, values)

    def _stamped(self, kind: type[RunEvent], values: dict[str, Any]) -> None:
        stamps = self._run
        if issubclass(kind, ChunkEvent):
            stamps = self._chunks.get(values["chunk"], stamps)
        values.update(stamps)
        self._deliver(kind(**values))

    def _deliver(self, event: RunEvent) -> None:
        getattr(self._log, event_level(event))(event_name(event), **event.fields())
        if self._metrics is not None:
            self._metrics.observe(event)
        if self._on_event is not None:
            self._on_event(event)

    def backoff(self, seconds: float) -> None:
        """A retry waits `seconds` (a metric; the attempt's event already said why)."""
        if self._metrics is not None:
            self._metrics.backoff(seconds)


def with_rate_text(values: dict[str, Any], *names: str) -> dict[str, Any]:
    """Rates (calls per second) rounded to what a limiter means (no 15 decimals), each
    followed by the same as a person reads it (``rate_text: "100/min"``)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in names and isinstance(value, float):
            out[key] = float(f"{value:.6g}")
            out[f"{key}_text"] = format_rate(value)
        else:
            out[key] = value
    return out


def _place(chunk: Chunk) -> dict[str, Any]:
    return {
        "region": chunk.region,
        "namespace": chunk.namespace,
        "group_id": chunk.group_id,
        "first_day": chunk.first_day.isoformat(),
        "last_day": chunk.last_day.isoformat(),
        "days": chunk.days,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    return value
