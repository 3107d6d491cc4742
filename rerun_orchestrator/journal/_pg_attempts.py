"""A chunk's attempts in the PostgreSQL journal: the fenced mark in flight, the outcome.

- `mark_in_flight` is one transaction made in a worker thread (the protocol's
  only coroutine, so the event loop never waits for the database there): the job's
  records are read again under a per-job advisory lock, the write is fenced by the job's
  lease (`_lease`), the ledger's invariant is checked against them (`DayCoveredError`:
  enforced by the database across replicas, not by a run lock), the caller's `screen`
  too (the separation of two generations' attempts), and the in-flight row is
  committed before the caller writes the request (`_pg_writes.locked`). A mark whose
  commit was cut off by an outage is recognised on the next try (same owner and start
  time), never applied twice.
- Outcomes are staged and written in batches by a thread of their own, each fenced
  (`_pg_writes.OutcomeWriter`): `record_outcome` never waits; reads overlay what is
  staged (`_pg_reads`), and a job's lease is released only once they are written.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from ._errors import DayCoveredError, JournalError
from ._ledger import conflict
from ._model import ChunkRecord, ChunkStatus
from ._pg_schema import UPSERT, record_row
from ._pg_writes import OutcomeWriter, locked
from ._transitions import begin_attempt, settle

if TYPE_CHECKING:
    import psycopg

    from .._clock import Clock
    from ..plan._model import Chunk
    from ._lease import JobLeases
    from ._store import Screen

T = TypeVar("T")
MARKS_KEPT = 4096  # more than any concurrency in flight


@dataclass(slots=True)
class ReplicaWork:
    """What this replica did on the shared journal (the run's summary says it)."""

    calls: int = 0  # marks in flight written: each is followed by one RerunJob
    chunks: int = 0  # chunks whose attempt it settled as succeeded...
    days: int = 0  # ...and their days


_ATTEMPTED = (ChunkStatus.IN_FLIGHT, ChunkStatus.UNKNOWN)


class PostgresAttempts:
    """`PostgresJournal`'s marks and outcomes (a mixin: needs its state and `_retry`)."""

    owner: str
    leases: JobLeases
    _clock: Clock
    _where: str
    _idle_ms: int
    _proposed: dict[str, ChunkRecord]
    _proposed_lock: threading.Lock
    _chunks: OrderedDict[str, Chunk]
    _marked: OrderedDict[str, ChunkRecord]
    _outcomes: OutcomeWriter | None
    work: ReplicaWork

    def _retry(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        raise NotImplementedError

    def _check_writable(self) -> None:
        raise NotImplementedError

    if TYPE_CHECKING:  # `PostgresReads.get`: a stub here would shadow it

        def get(self, key: str) -> ChunkRecord | None: ...

    async def mark_in_flight(
        self, key: str, started_at: float, *, screen: Screen | None = None
    ) -> ChunkRecord:
        self._check_writable()
        with self._proposed_lock:
            proposed = self._proposed.get(key)
        if proposed is not None:
            begin_attempt(proposed, started_at, self._clock.wall())  # refuse before awaiting
        # Not abandoned on cancel: the transaction under way commits or rolls back whole.
        new = await anyio.to_thread.run_sync(self._mark, key, started_at, proposed, screen)
        with self._proposed_lock:
            self._proposed.pop(key, None)
        return new

    def _mark(
        self,
        key: str,
        started_at: float,
        proposed: ChunkRecord | None,
        screen: Screen | None = None,
    ) -> ChunkRecord:
        wall = self._clock.wall()
        if self._outcomes is not None and self._outcomes.dirty:
            self._outcomes.flush()  # outcomes ride along: a retry's mark sees its outcome
        with self._proposed_lock:
            chunk = proposed.chunk if proposed is not None else self._chunks.get(key)

        def work(conn: psycopg.Connection[Any]) -> ChunkRecord:
            with conn.transaction():  # not pipelined: see `_pg_connect.bounded_transaction`
                current, owner, others = locked(
                    conn,
                    key,
                    chunk,
                    proposed,
                    leases=self.leases,
                    idle_ms=self._idle_ms,
                    where=self._where,
                )
                if (
                    current.status is ChunkStatus.IN_FLIGHT
                    and owner == self.owner
                    and current.attempt_started_at == started_at
                ):
                    return current  # our own mark, committed by a try cut off before
                if current.covers and owner is not None and owner != self.owner:
                    # Another replica sent it since this one read it: not ours to judge.
                    raise DayCoveredError(key, key, current.plan)
                new = begin_attempt(current, started_at, wall)
                other = conflict(new, others)
                if other is not None:
                    raise DayCoveredError(key, other.key, other.plan)
                if screen is not None and (refused := screen(new, others)) is not None:
                    raise refused  # under the job's lock: no replica can mark in between
                conn.execute(UPSERT, record_row(new, self.owner))
                return new  # committed (with the pipeline's last sync) before it returns

        new = self._retry(work)
        with self._proposed_lock:
            self.work.calls += 1
            self._marked[key] = new
            if len(self._marked) > MARKS_KEPT:
                self._marked.popitem(last=False)
        return new

    def record_outcome(
        self,
        key: str,
        status: ChunkStatus,
        *,
        request_id: str | None = None,
        code: str | int | None = None,
        message: str | None = None,
        reason: str | None = None,
        instance_ids: Iterable[int] = (),
    ) -> ChunkRecord:
        """Staged and written by the outcome writer (`_pg_writes`): never waits."""
        self._check_writable()
        outcomes = self._outcomes
        assert outcomes is not None
        with self._proposed_lock:
            current = self._proposed.get(key) or self._marked.get(key)
        staged = outcomes.get(key)
        current = staged or current or self.get(key)
        if current is None:
            raise JournalError(
                f"chunk {key} is not in journal {self._where}; propose or sync it first"
            )
        new = settle(
            current,
            ChunkStatus(status),
            self._clock.wall(),
            request_id=request_id,
            code=code,
            message=message,
            reason=reason,
            instance_ids=instance_ids,
        )
        outcomes.stage(new)
        with self._proposed_lock:
            if new.status is ChunkStatus.SUCCEEDED and current.status in _ATTEMPTED:
                self.work.chunks += 1
                self.work.days += new.chunk.days
            self._proposed.pop(key, None)
            self._marked.pop(key, None)
        return new
