"""The group cap across replicas: a `Gate` whose count is the shared journal's.

With a PostgreSQL journal several replicas send the same plan, and the jobs of one
application group are spread over them; a ``max_active_per_group`` counted per process
would let N replicas run N times the cap. This gate takes the group's slots in the
database (`journal._pg_groups.GroupSlots`: the group's accepted days not seen to end plus
the slots other replicas hold, under the group's advisory lock), before the in-process
`InstanceGate` (which still keeps the per-job cap and this replica's share of the group).

Waiting: a group with no free slot is asked again when this replica's watcher sees an
instance end or a slot of ours is given back (`nudge`), and at least every `poll`
seconds (another replica's watcher may have seen an end). A slot is given back once its
chunk's call is settled (`finished`, on the loop): a worker thread of its own writes
that, and `close` stops it (the run session closes the gate when the run ends).
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Iterable
from typing import Protocol

import anyio
import structlog

from .._clock import Clock
from ._admission import Ticket
from ._capacity import GroupKey, group_of

DEFAULT_POLL_SECONDS = 0.5
_log = structlog.get_logger("rerun_orchestrator.run")


class GroupSlotSource(Protocol):
    """What the gate needs of the journal (`PostgresJournal.group_slots`)."""

    def reserve(
        self, group: GroupKey, cap: int, days: int, since: float
    ) -> tuple[str | None, int]: ...

    def release(self, tokens: Iterable[str]) -> None: ...


class SharedGroupGate:
    """Caps each group's active instances across every replica of a shared journal.

    Args:
        slots: the journal's group slots.
        group_cap: a group's cap, None for none (its tickets pass at once).
        clock: sleeps between polls, and the wall time of the watch horizon.
        horizon: records sent longer ago than this (seconds) do not count (pruned).
        poll: seconds between asks while a group is full.
    """

    def __init__(
        self,
        slots: GroupSlotSource,
        group_cap: Callable[[GroupKey], int | None],
        clock: Clock,
        *,
        horizon: float,
        poll: float = DEFAULT_POLL_SECONDS,
    ) -> None:
        self._slots = slots
        self._group_cap = group_cap
        self._clock = clock
        self._horizon = horizon
        self._poll = poll
        self._tokens: dict[int, tuple[Ticket, str]] = {}
        self._waiting: dict[GroupKey, int] = {}
        self._changed: anyio.Event | None = None
        self._lock = threading.Lock()
        self._pending: list[concurrent.futures.Future[None]] = []
        self._worker: concurrent.futures.ThreadPoolExecutor | None = None
        self.taken = 0  # slots taken (days), for tests and the log
        self.waits = 0  # times a group was found full

    # -- the Gate protocol ---------------------------------------------------------------

    def try_start(self, ticket: Ticket) -> Ticket | None:
        if self._group_cap(group_of(ticket.job)) is None:
            return ticket
        return None  # taking a slot is a database round trip: see `start`

    async def start(self, ticket: Ticket) -> Ticket:
        group = group_of(ticket.job)
        cap = self._group_cap(group)
        if cap is None:
            return ticket
        self._waiting[group] = self._waiting.get(group, 0) + 1
        try:
            while True:
                changed = self._event()
                with anyio.CancelScope(shield=True):  # a slot taken is never left unknown
                    token, days = await anyio.to_thread.run_sync(
                        self._reserve, group, cap, ticket.days
                    )
                if token is not None:
                    admitted = Ticket(ticket.job, days)
                    self._tokens[id(admitted)] = (admitted, token)
                    self.taken += days
                    return admitted
                self.waits += 1
                await self._wait(changed)
        finally:
            self._waiting[group] -= 1
            if not self._waiting[group]:
                del self._waiting[group]

    def finished(self, ticket: Ticket) -> None:
        entry = self._tokens.pop(id(ticket), None)
        if entry is None:
            return
        with self._lock:
            if self._worker is None:
                self._worker = concurrent.futures.ThreadPoolExecutor(1, "rerun-group-slots")
            self._pending.append(self._worker.submit(self._release, entry[1]))
        self.nudge()  # our own waiters may use it (each waits for the release to land)

    def still_admits(self, ticket: Ticket) -> bool:
        return True

    # -- the watcher's side ----------------------------------------------------------------

    def nudge(self) -> None:
        """Something may have freed a slot (an instance ended): waiters ask again now."""
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def awaited(self, group: GroupKey) -> bool:
        """Whether a chunk of this replica waits for a slot of `group`."""
        return group in self._waiting

    def close(self) -> None:
        """Write the slots given back so far and stop the worker thread (blocks; call it
        off the loop). A later `finished` starts a new one."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.shutdown(wait=True)
        self._settle()

    # -- inside ----------------------------------------------------------------------------

    def _event(self) -> anyio.Event:
        if self._changed is None:
            self._changed = anyio.Event()
        return self._changed

    def _reserve(self, group: GroupKey, cap: int, days: int) -> tuple[str | None, int]:
        self._settle()  # our own slots given back are not counted against us
        return self._slots.reserve(group, cap, days, self._clock.wall() - self._horizon)

    def _release(self, token: str) -> None:
        try:
            self._slots.release([token])
        except Exception as exc:  # the slot stays counted until our leases expire: safe
            _log.warning("rerun.group.release_failed", error=str(exc))

    def _settle(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    async def _wait(self, changed: anyio.Event) -> None:
        async with anyio.create_task_group() as tg:

            async def poll() -> None:
                await self._clock.sleep(self._poll)
                tg.cancel_scope.cancel()

            tg.start_soon(poll)
            await changed.wait()
            tg.cancel_scope.cancel()

    def __repr__(self) -> str:
        return f"SharedGroupGate(taken={self.taken}, waiting={sum(self._waiting.values())})"


__all__ = ["GroupSlotSource", "SharedGroupGate"]
