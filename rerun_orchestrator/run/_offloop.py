"""Journal work that takes seconds, done in a worker thread so the event loop keeps serving.

Opening a journal (the run lock, file checks, a schema migration, recording the plan),
writing a report or computing `status` reads or writes the whole journal: for a plan of a
million days that is seconds of SQLite and Python. In a service those seconds would freeze
every other request on the loop, so these coroutines run them with `anyio.to_thread`.

The journal protocol's own calls stay synchronous (decided for the second release): each is
one indexed read or one small write (the group-commit writer batches the fsyncs), far below
a millisecond, and keeping them synchronous keeps the executor's ordering simple (a chunk is
marked in flight before its request is written, without an await in between). What does
take long runs here, and `run_plan` itself counts the plan's days off the loop.

A journal whose every call is a network round trip (PostgreSQL: and, while the database
restarts, a wait of up to minutes) says so with ``remote = True``; the executor and the
watcher then make its reads and writes through `journal_call`, in a worker thread.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable
from typing import Any, TypeVar

import anyio

from .._clock import Clock
from ..journal._opening import Synchronous
from ..journal._report import write_plan_report
from ..journal._sqlite import SqliteJournal
from ..journal._status import status_data
from ..journal._store import Journal
from ..plan._plan import Plan

T = TypeVar("T")


def is_remote(journal: object) -> bool:
    """Whether `journal`'s calls wait on a network (PostgreSQL), not a local file."""
    return bool(getattr(journal, "remote", False))


async def journal_read(journal: object, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`work(*args, **kwargs)`: in a worker thread for a remote journal, else at once
    (SQLite's calls take microseconds, and the memory journal is not thread-safe). A
    cancellation does not wait for the read under way (its answer is dropped)."""
    call = functools.partial(work, *args, **kwargs)
    if not is_remote(journal):
        return call()
    return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)


async def journal_write(journal: object, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """As `journal_read`, but a cancellation waits for the write under way to finish
    (a journal write is never left half-known)."""
    call = functools.partial(work, *args, **kwargs)
    if not is_remote(journal):
        return call()
    with anyio.CancelScope(shield=True):
        done = await anyio.to_thread.run_sync(call)
    return done  # noqa: RET504 - returned inside the scope, mypy sees a missing return


async def open_plan_journal(
    path: str | os.PathLike[str],
    plan: Plan,
    *,
    clock: Clock | None = None,
    synchronous: Synchronous = "FULL",
) -> SqliteJournal:
    """`SqliteJournal.open` for `plan` (its name, digest, zone, size and locations), in a
    worker thread. Close it with ``await anyio.to_thread.run_sync(journal.close)`` or
    `close_journal`.

    Raises:
        JournalLockedError: another run holds the journal.
        JournalError: not a journal, a newer schema, the plan's zone changed.
    """
    return await anyio.to_thread.run_sync(
        functools.partial(
            SqliteJournal.open,
            path,
            plan_name=plan.name,
            plan_digest=plan.digest,
            clock=clock,
            timezone=plan.timezone,
            job_days=plan.count_job_days(),
            chunks=plan.count_chunks(),
            locations={
                (t.region, t.namespace, t.namespace_source, t.group_id) for t in plan.targets
            },
            synchronous=synchronous,
        )
    )


async def close_journal(journal: Journal) -> None:
    """Flush and close `journal` in a worker thread (the last commit may wait on fsync)."""
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(journal.close)


async def plan_report(journal: Journal, plan: Plan, *, generation: int = 0) -> str:
    """The contract's JSON report of `plan` (``run --report``), built in a worker thread."""

    def build() -> str:
        out = io.StringIO()
        write_plan_report(journal, plan, out, generation=generation)
        return out.getvalue()

    return await anyio.to_thread.run_sync(build)


async def journal_status(journal: Journal) -> dict[str, Any]:
    """What ``status --format json`` prints for `journal`, computed in a worker thread."""
    return await anyio.to_thread.run_sync(status_data, journal)


__all__ = ["close_journal", "journal_status", "open_plan_journal", "plan_report"]
