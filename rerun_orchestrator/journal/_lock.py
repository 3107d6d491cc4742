"""The run lock: one `run` per journal at a time, released by the kernel when a run dies.

`fcntl.flock` on a sidecar file (``<journal>.lock``) rather than SQLite's own locking,
because SQLite's locks are per transaction: two runs could interleave their transactions
and send the same pending chunk twice. A `flock` is tied to the open file description, so
`kill -9` releases it and no stale lock ever needs cleaning. The file's content (pid and
start time) only serves the error message; the lock itself is the kernel's.

POSIX only. On a network file system `flock` may not exclude other hosts: keep journals
on a local disk.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from ._errors import JournalLockedError


def lock_path(journal: Path) -> Path:
    return journal.with_name(journal.name + ".lock")


class RunLock:
    """An exclusive, non-blocking lock held for the life of a writable journal."""

    def __init__(self, journal: Path, fd: int) -> None:
        self._journal = journal
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, journal: Path, *, wall: float) -> RunLock:
        """Take the lock or raise `JournalLockedError` naming the holder."""
        path = lock_path(journal)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = read_holder(journal)
            os.close(fd)
            pid = holder.get("pid") if holder else None
            since = holder.get("since") if holder else None
            raise JournalLockedError(
                str(journal),
                pid if isinstance(pid, int) else None,
                since if isinstance(since, str) else None,
            ) from None
        except BaseException:
            os.close(fd)
            raise
        since = datetime.fromtimestamp(wall, UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "since": since}).encode(), 0)
        return cls(journal, fd)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        # Clearing the holder first means a reader never names a finished run as active.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the description drops the flock

    def __repr__(self) -> str:
        state = "held" if self._fd is not None else "released"
        return f"RunLock({str(self._journal)!r}, {state})"


def read_holder(journal: Path) -> dict[str, object] | None:
    """The pid and start time written by the last holder, if the lock file names one."""
    try:
        raw = lock_path(journal).read_text()
        holder = json.loads(raw) if raw.strip() else None
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def active_holder(journal: Path) -> dict[str, object] | None:
    """The holder if its process is still alive (for `status`; never takes the lock).

    Probing with `flock` would briefly hold the lock and could refuse a `run` that starts
    at that moment, so this only reads the file and asks whether the pid is alive.
    """
    holder = read_holder(journal)
    pid = holder.get("pid") if holder else None
    if not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return holder  # alive, owned by someone else
    return holder
