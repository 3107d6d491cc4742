"""The run lock: one `run` per journal at a time, released by the kernel when a run dies.

`fcntl.flock` on a sidecar file (``<journal>.lock``) rather than SQLite's own locking,
because SQLite's locks are per transaction: two runs could interleave their transactions
and send the same pending chunk twice. A `flock` is tied to the open file description, so
`kill -9` releases it and no stale lock ever needs cleaning. The file's content (pid and
start time) only serves the error message; the lock itself is the kernel's.

The lock is only as good as the file it is on: a lock file deleted (or replaced) while a
run holds it would let a second run take a new one. So the lock checks its identity: once
it is taken (the path must still name the file locked), and again before every commit of
the journal (`verify`), which stops the first run before it writes anything more.

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

from ._errors import JournalError, JournalLockedError


class JournalReplacedError(JournalError):
    """The journal (or its lock) was deleted or replaced while a run held it."""


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
        for _ in range(3):  # the file was replaced between our open and our flock: again
            fd = cls._take(journal, path)
            if _same_file(path, fd):
                break
            os.close(fd)
        else:
            raise JournalLockedError(str(journal), None, None)
        since = datetime.fromtimestamp(wall, UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "since": since}).encode(), 0)
        return cls(journal, fd)

    @staticmethod
    def _take(journal: Path, path: Path) -> int:
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
        return fd

    def verify(self) -> None:
        """Raise `JournalReplacedError` unless the lock file is still the one we hold."""
        if self._fd is not None and not _same_file(lock_path(self._journal), self._fd):
            raise JournalReplacedError(
                f"the run lock {lock_path(self._journal)} of journal {self._journal} was "
                "deleted or replaced while this run held it; this run stops so that no "
                "other run can send the same days (start it again: it resumes)"
            )

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


def _same_file(path: Path, fd: int) -> bool:
    """Whether `path` still names the open file `fd` (not deleted, not replaced)."""
    held = os.fstat(fd)
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    return held.st_nlink > 0 and (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


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
