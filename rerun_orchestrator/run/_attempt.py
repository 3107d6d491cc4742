"""One RerunJob attempt on the wire, and what its answer tells the pacer.

The client raises only before it sends (no credentials, no endpoint for the region); the
executor needs results, so those become `AttemptResult`s here that say nothing was sent.
A throttled answer slows the pacer down (with the server's retry-after, if any); any other
answer of the server counts as a success for the pacer.
"""

from __future__ import annotations

from typing import Protocol

from ..plan._model import Chunk
from ..schedulerx._errors import CredentialsError, SchedulerXError
from ..schedulerx._wire import AttemptResult, RerunJobParams, Verdict
from ._events import EventSink, Throttled
from ._limiter import Pacer
from ._result import RunStats


class RerunClient(Protocol):
    """What the executor needs from a client (`SchedulerXClient` has it)."""

    async def rerun_job(self, params: RerunJobParams) -> AttemptResult:
        """Exactly one freshly signed attempt; failures are results."""
        ...


def rerun_params(chunk: Chunk) -> RerunJobParams:
    """The RerunJob call for `chunk`."""
    return RerunJobParams(
        region=chunk.region,
        namespace=chunk.namespace,
        group_id=chunk.group_id,
        job_id=chunk.job_id,
        start_date=chunk.start_date,
        end_date=chunk.end_date,
        data_time=chunk.data_time,
        namespace_source=chunk.namespace_source,
    )


async def send(client: RerunClient, chunk: Chunk) -> AttemptResult:
    """One attempt for `chunk`; never raises for a failure the client reports."""
    try:
        return await client.rerun_job(rerun_params(chunk))
    except CredentialsError as exc:  # the client raises before sending: not applied
        return AttemptResult(Verdict.RETRY, f"not sent: {exc}", None, wrote_request=False)
    except SchedulerXError as exc:  # no endpoint for the region: resending cannot help
        return AttemptResult(Verdict.PERMANENT, f"not sent: {exc}", None, wrote_request=False)


def pace_by(
    pacer: Pacer,
    result: AttemptResult,
    *,
    chunk: Chunk,
    sent_at: float,
    events: EventSink,
    stats: RunStats,
) -> None:
    """Tell `pacer` what the answer to an attempt sent at `sent_at` (monotonic) said."""
    if result.throttled:
        stats.throttled += 1
        before = pacer.rate
        hint = result.retry_after_ms
        pacer.on_throttle(sent_at=sent_at, retry_after=hint / 1000 if hint else None)
        events.emit(Throttled(chunk.key, result.code, hint, before, pacer.rate))
    elif result.response is not None:
        pacer.on_success()
