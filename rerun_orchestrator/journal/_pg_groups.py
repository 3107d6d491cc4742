"""A group's cap on active instances across replicas: counted in PostgreSQL, not per process.

``max_active_per_group`` caps the instances waiting or running in a SchedulerX application
group, whichever replica created them. A job is worked on by one replica at a time (its
lease), so the per-job cap holds by adopting the job's open days when its lease is taken;
a group's jobs are spread over replicas, so its count must be the database's:

- the group's *open days*: the days of accepted records (status ``succeeded``, sent by
  this tool after the watch horizon, or whose instances were found) that no watcher has
  seen end (``rerun_day_instances``), of every plan in the journal; and
- the *slots* replicas took and have not given back yet (``rerun_group_slots``): a chunk
  admitted, on its way to RerunJob. A slot counts while its owner holds a live lease (a
  replica killed mid-call stops counting once its leases expire; by then its accepted
  days are in the ledger and count there).

`reserve` takes slots in one transaction under the group's advisory lock, so two replicas
admitting at the same moment never both see the last free slot. A slot is given back
(`release`) once its chunk's call is settled and the outcome written (outcomes are staged:
`before_release` writes them first, else the group would look free between the two);
meanwhile an accepted chunk counts twice (slot and open days), on the safe side. Records
in flight are counted through their slots, not the ledger: a crashed run's in-flight
record could otherwise hold its group shut until reconciled. The price: a replica killed
mid-call stops counting when its leases expire, and the instances its last call created
count again once the new holder has reconciled that call.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from ._pg_connect import SETUP_IDLE_MS, bounded_transaction

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")
Group = tuple[str, str, str]  # region, namespace, group_id

# Accepted days not seen to end, for one group: records sent since the horizon, and
# records found on the server (no attempt, instance ids). Two branches, so that each is
# a range of the index on (group_id, namespace, region, attempt_started_at) of succeeded
# rows, not a scan of the group's whole history.
_GROUP = (
    "c.status = 'succeeded' AND c.group_id = %(group_id)s AND c.namespace = %(namespace)s "
    "AND c.region = %(region)s"
)
_OPEN_DAYS = f"""
SELECT COALESCE(SUM(c.days - (
    SELECT COUNT(*) FROM rerun_day_instances d
    WHERE d.chunk_key = c.key AND d.status NOT IN ('waiting', 'running')
)), 0)
FROM (
    SELECT key, days FROM rerun_chunks c WHERE {_GROUP} AND c.attempt_started_at >= %(since)s
    UNION ALL
    SELECT key, days FROM rerun_chunks c WHERE {_GROUP} AND c.attempt_started_at IS NULL
        AND c.instance_ids <> '[]'::jsonb
) c
"""  # noqa: S608 - constant fragments, values are parameters
_LIVE_OWNER = (
    "EXISTS (SELECT 1 FROM rerun_leases l WHERE l.owner = s.owner AND l.expires_at > now())"
)
_SLOTS = f"SELECT COALESCE(SUM(days), 0) FROM rerun_group_slots s WHERE grp = %s AND {_LIVE_OWNER}"  # noqa: S608
_FORGET_DEAD = f"DELETE FROM rerun_group_slots s WHERE grp = %s AND NOT {_LIVE_OWNER}"  # noqa: S608
_TAKE = "INSERT INTO rerun_group_slots (token, grp, owner, days) VALUES (%s, %s, %s, %s)"
_GROUP_LOCK = 3  # hashtextextended's seed: apart from the plan's lock (1)


def group_text(group: Group) -> str:
    return json.dumps(list(group), separators=(",", ":"))


class GroupSlots:
    """`PostgresJournal.group_slots`: count, take and give back a group's slots.

    Args:
        retry: runs a statement's work on a pooled connection, waiting out an outage.
        owner: this replica's name (its leases say whether it is alive).
        before_release: writes what the journal staged (the chunks' outcomes).
        idle_ms: how long the server lets a reservation's transaction (which holds the
            group's lock) sit idle before it ends it (`bounded_transaction`).
    """

    def __init__(
        self,
        retry: Callable[[Callable[[psycopg.Connection[Any]], T]], T],
        owner: str,
        *,
        before_release: Callable[[], None] | None = None,
        idle_ms: int = SETUP_IDLE_MS,
    ) -> None:
        self._idle_ms = idle_ms
        self._retry: Callable[[Callable[[psycopg.Connection[Any]], Any]], Any] = retry
        self._before_release = before_release
        self.owner = owner

    def reserve(self, group: Group, cap: int, days: int, since: float) -> tuple[str | None, int]:
        """Take up to `days` of the group's free slots under `cap`: (token, days taken),
        (None, 0) if none is free. `since`: records sent before this wall time are long
        pruned from the server (the watch horizon) and do not count."""
        text = group_text(group)
        params = {"region": group[0], "namespace": group[1], "group_id": group[2], "since": since}

        def take(conn: psycopg.Connection[Any]) -> tuple[str | None, int]:
            with bounded_transaction(conn, self._idle_ms):
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, %s))", (text, _GROUP_LOCK)
                )
                conn.execute(_FORGET_DEAD, (text,))
                active = _one(conn, _SLOTS, (text,)) + _one(conn, _OPEN_DAYS, params)
                granted = max(0, min(days, cap - active))
                if not granted:
                    return None, 0
                token = secrets.token_hex(8)
                conn.execute(_TAKE, (token, text, self.owner, granted))
                return token, granted

        result: tuple[str | None, int] = self._retry(take)
        return result

    def release(self, tokens: Iterable[str]) -> None:
        """Give slots back (their chunks' calls are settled), once the outcomes are written."""
        listed = list(tokens)
        if listed and self._before_release is not None:
            self._before_release()
        if listed:
            self._retry(
                lambda conn: conn.execute(
                    "DELETE FROM rerun_group_slots WHERE token = ANY(%s)", (listed,)
                )
            )

    def active(self, group: Group, since: float) -> int:
        """The group's count as `reserve` sees it: live slots plus open days."""
        text = group_text(group)
        params = {"region": group[0], "namespace": group[1], "group_id": group[2], "since": since}

        def read(conn: psycopg.Connection[Any]) -> int:
            return _one(conn, _SLOTS, (text,)) + _one(conn, _OPEN_DAYS, params)

        count: int = self._retry(read)
        return count


def _one(conn: psycopg.Connection[Any], sql: str, params: Any) -> int:
    row = conn.execute(sql.encode(), params).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


__all__ = ["GroupSlots", "group_text"]
