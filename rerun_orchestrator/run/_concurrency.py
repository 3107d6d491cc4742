"""Concurrency caps, separate from the rate limiter (as aiometer keeps `max_at_once` apart
from `max_per_second`): how many calls may be in flight, overall and per job.

Both are fair (first come, first served) and hold no memory for idle keys, so a plan with a
million chunks over ten thousand jobs costs only the jobs that are in flight.
"""

from __future__ import annotations

from collections.abc import Hashable
from types import TracebackType

import anyio


class ConcurrencyLimiter:
    """At most `limit` holders at once; ``async with limiter:`` holds one slot.

    Args:
        limit: an int ≥ 1.
    """

    def __init__(self, limit: int) -> None:
        _check_limit(limit)
        self._limit = limit
        self._semaphore = anyio.Semaphore(limit)

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def in_use(self) -> int:
        return self._limit - self._semaphore.value

    @property
    def waiting(self) -> int:
        return self._semaphore.statistics().tasks_waiting

    async def acquire(self) -> None:
        """Wait for a slot (first come, first served); pair with `release()`."""
        await self._semaphore.acquire()

    def try_acquire(self) -> bool:
        """Take a slot if one is free and nobody waits; never blocks."""
        if self._semaphore.statistics().tasks_waiting:
            return False
        try:
            self._semaphore.acquire_nowait()
        except anyio.WouldBlock:
            return False
        return True

    def release(self) -> None:
        self._semaphore.release()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return (
            f"ConcurrencyLimiter(limit={self._limit}, in_use={self.in_use}, waiting={self.waiting})"
        )


_SPARE = 64  # semaphores kept for reuse by a KeyedLimiter


class KeyedLimiter:
    """At most `limit` holders per key: ``async with jobs.hold(key):``.

    The executor keys it by (region, namespace, group, job) so that a job never has more
    than `per_job_concurrency` reruns in flight, even when the plan lists it in two targets:
    SchedulerX runs a job's instances one after another anyway (task concurrency 1).
    """

    def __init__(self, limit: int) -> None:
        _check_limit(limit)
        self._limit = limit
        self._slots: dict[Hashable, tuple[anyio.Semaphore, list[int]]] = {}
        # Semaphores of keys no one holds any more, whole again: a job's lane takes and
        # leaves its key once per chunk, and making an anyio.Semaphore costs more than the
        # rest of the slot (it asks which async library runs).
        self._spare: list[anyio.Semaphore] = []

    @property
    def limit(self) -> int:
        return self._limit

    def hold(self, key: Hashable) -> _Hold:
        """``async with jobs.hold(key):`` holds one of `key`'s slots."""
        return _Hold(self, key)

    async def acquire(self, key: Hashable) -> None:
        """Wait for one of `key`'s slots; pair with `release(key)`."""
        await self._enter(key)

    def try_acquire(self, key: Hashable) -> bool:
        """Take one of `key`'s slots if one is free and nobody waits; never blocks."""
        entry = self._slots.get(key)
        if entry is None:
            entry = self._slots[key] = (self._semaphore(), [0])
        elif entry[0].value == 0 or entry[0].statistics().tasks_waiting:
            return False
        entry[0].acquire_nowait()
        entry[1][0] += 1
        return True

    def release(self, key: Hashable) -> None:
        self._exit(key)

    def in_use(self, key: Hashable) -> int:
        entry = self._slots.get(key)
        return 0 if entry is None else self._limit - entry[0].value

    async def _enter(self, key: Hashable) -> None:
        entry = self._slots.get(key)
        if entry is None:
            entry = self._slots[key] = (self._semaphore(), [0])
        entry[1][0] += 1  # users: holders and waiters; the entry goes when it reaches 0
        try:
            await entry[0].acquire()
        except BaseException:
            self._leave(key, entry, release=False)
            raise

    def _exit(self, key: Hashable) -> None:
        self._leave(key, self._slots[key], release=True)

    def _leave(
        self, key: Hashable, entry: tuple[anyio.Semaphore, list[int]], *, release: bool
    ) -> None:
        if release:
            entry[0].release()
        entry[1][0] -= 1
        if entry[1][0] == 0:
            del self._slots[key]
            semaphore = entry[0]
            if len(self._spare) < _SPARE and semaphore.value == self._limit:
                self._spare.append(semaphore)

    def _semaphore(self) -> anyio.Semaphore:
        return self._spare.pop() if self._spare else anyio.Semaphore(self._limit)

    def __len__(self) -> int:
        """Keys held or waited for right now."""
        return len(self._slots)

    def __repr__(self) -> str:
        return f"KeyedLimiter(limit={self._limit}, keys_in_use={len(self._slots)})"


class _Hold:
    __slots__ = ("_key", "_owner")

    def __init__(self, owner: KeyedLimiter, key: Hashable) -> None:
        self._owner = owner
        self._key = key

    async def __aenter__(self) -> None:
        await self._owner._enter(self._key)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._owner._exit(self._key)


def _check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be an int >= 1, got {limit!r}")
