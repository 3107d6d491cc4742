"""Leases on jobs: how several replicas of a run share one PostgreSQL journal.

A replica works on a job only while it holds the job's lease: a row (job, owner, epoch,
expires_at) in `rerun_leases`, taken when it is free or expired (the epoch then goes up
by one), renewed by a heartbeat thread every third of its time, released when the job is
done. Time is the database's (``now()``), so replicas need no synchronised clocks.

Every write of a replica is *fenced*: in the write's own transaction, the lease row is
read ``FOR SHARE`` and must still name this owner and epoch and not have expired, else
the write is refused (`LeaseLostError`) and nothing is sent. A replica that was paused
(SIGSTOP, a long GC, a frozen VM) past its lease therefore cannot write once it wakes:
its next mark is refused before any request, and an outcome it brings back is refused
too, which leaves the chunk in flight for the new holder to reconcile (never to resend
blindly). A takeover waits for the row lock a fenced write holds, so a write is either
committed under the old lease or refused.

A journal used without claiming (a single run, the library) writes unfenced, but still
never into a job another replica holds a live lease on.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from ._errors import DayCoveredError
from ._model import JobIdentity

if TYPE_CHECKING:  # psycopg is optional: the executor imports this module without it
    import psycopg

_log = structlog.get_logger("rerun_orchestrator.journal")

DEFAULT_LEASE_SECONDS = 30.0


class LeaseLostError(DayCoveredError):
    """A write refused: another replica holds (or took over) the lease of the chunk's job.

    A `DayCoveredError`, because that is what it means for the caller: the chunk's days
    are another replica's to settle; nothing was written or sent.
    """

    def __init__(self, key: str, owner: str | None) -> None:
        super().__init__(key, key, None)
        who = f"replica {owner}" if owner else "another replica"
        self.args = (
            f"chunk {key} was not written: its job's lease is held by {who} (this replica's "
            "lease expired or was never taken); that replica settles it",
        )
        self.owner = owner


def job_key(job: JobIdentity) -> str:
    """A job's identity as one text (the lease row's key and the advisory lock's)."""
    return json.dumps(list(job), separators=(",", ":"))


class JobLeases:
    """The leases this replica holds, their heartbeat, and the fence of every write."""

    def __init__(
        self,
        connect: Callable[[], contextlib.AbstractContextManager[psycopg.Connection[Any]]],
        owner: str,
        seconds: float = DEFAULT_LEASE_SECONDS,
        *,
        before_release: Callable[[], None] | None = None,
    ) -> None:
        if not seconds > 0:
            raise ValueError(f"lease seconds must be > 0, not {seconds!r}")
        self._connect = connect
        self._before_release = before_release  # writes what the job's holder staged
        self.owner = owner
        self.seconds = float(seconds)
        self._held: dict[str, int] = {}  # job key -> epoch
        self._lost: set[str] = set()  # jobs whose lease went while held: no writes till claimed
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.taken_over = 0  # leases this replica took from an expired holder

    def claim(self, job: JobIdentity) -> bool:
        """Take the job's lease if it is free, expired or already ours."""
        key = job_key(job)
        with self._connect() as conn:
            row = conn.execute(
                "INSERT INTO rerun_leases AS l (job, owner, epoch, expires_at) "
                "VALUES (%s, %s, 1, now() + make_interval(secs => %s)) "
                "ON CONFLICT (job) DO UPDATE SET owner = excluded.owner, "
                "epoch = l.epoch + 1, expires_at = excluded.expires_at "
                "WHERE l.expires_at < now() OR l.owner = excluded.owner "
                "RETURNING epoch, (xmax <> 0) AS updated",
                (key, self.owner, self.seconds),
            ).fetchone()
        if row is None:
            return False
        with self._lock:
            self._held[key] = int(row[0])
            self._lost.discard(key)
        if row[1] and int(row[0]) > 1:
            self.taken_over += 1
        self._ensure_heartbeat()
        return True

    def release(self, job: JobIdentity) -> None:
        """Give the job's lease back, once what this replica staged for it is written."""
        if self._before_release is not None:
            self._before_release()
        key = job_key(job)
        with self._lock:
            epoch = self._held.pop(key, None)
            self._lost.discard(key)
        if epoch is None:
            return
        with self._connect() as conn:
            conn.execute(
                "DELETE FROM rerun_leases WHERE job = %s AND owner = %s AND epoch = %s",
                (key, self.owner, epoch),
            )

    def fence_read(self, conn: psycopg.Connection[Any], job: JobIdentity) -> psycopg.Cursor[Any]:
        """Inside a write's transaction: read (and share-lock) the job's live lease; the
        result goes to `fence_check` (apart: the caller reads it when it needs it)."""
        return conn.execute(
            "SELECT owner, epoch FROM rerun_leases WHERE job = %s AND expires_at > now() FOR SHARE",
            (job_key(job),),
        )

    def fence_check(self, row: Any, job: JobIdentity, chunk_key: str) -> None:
        """Refuse the write unless this replica may write the job.

        Raises:
            LeaseLostError: the lease is another's, or ours expired or was taken over.
        """
        key = job_key(job)
        with self._lock:
            epoch = self._held.get(key)
            lost = key in self._lost
        if lost:
            raise LeaseLostError(chunk_key, None)
        if epoch is None:
            if row is not None and row[0] != self.owner:
                raise LeaseLostError(chunk_key, row[0])
            return
        if row is None or row[0] != self.owner or int(row[1]) != epoch:
            with self._lock:
                if self._held.pop(key, None) is not None:
                    self._lost.add(key)
            raise LeaseLostError(chunk_key, None if row is None else row[0])

    def renew(self) -> None:
        """Push every held lease's expiry on; forget those that were lost meanwhile."""
        with self._lock:
            held = dict(self._held)
        if not held:
            return
        with self._connect() as conn:
            rows = conn.execute(
                "UPDATE rerun_leases SET expires_at = now() + make_interval(secs => %s) "
                "WHERE owner = %s AND job = ANY(%s) AND expires_at > now() RETURNING job, epoch",
                (self.seconds, self.owner, list(held)),
            ).fetchall()
        kept = {job: int(epoch) for job, epoch in rows}
        with self._lock:
            for job, epoch in held.items():
                if kept.get(job) != epoch and self._held.get(job) == epoch:
                    del self._held[job]
                    self._lost.add(job)
                    _log.warning("rerun.lease.lost", job=job, owner=self.owner)

    def close(self) -> None:
        """Stop the heartbeat and release every lease still held."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            held, self._held = self._held, {}
        if held:
            import psycopg  # noqa: PLC0415 (optional dependency, present once leases exist)

            with contextlib.suppress(psycopg.Error), self._connect() as conn:
                conn.execute(
                    "DELETE FROM rerun_leases WHERE owner = %s AND job = ANY(%s)",
                    (self.owner, list(held)),
                )

    def _ensure_heartbeat(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._beat, name="rerun-lease-heartbeat", daemon=True
            )
            self._thread.start()

    def _beat(self) -> None:
        import psycopg  # noqa: PLC0415 (optional dependency, present once leases exist)

        while not self._stop.wait(self.seconds / 3):
            try:
                self.renew()
            except psycopg.Error as exc:  # the database is away: try again next beat
                _log.warning("rerun.lease.renew_failed", error=str(exc))
