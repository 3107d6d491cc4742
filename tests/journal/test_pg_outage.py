"""The database going away under a run (a restart, a failover): the journal's calls and
the shared pacer's reservations wait for it and carry on, nothing lost.

The server is this test's own (the session's stays up): stopped with ``pg_ctl -m
immediate`` (every connection dropped, as in a crash), started again once a waiting call
has said so in its log."""

from __future__ import annotations

import threading
from datetime import date

import anyio
import pytest
import structlog

from rerun_orchestrator._pg_server import ThrowawayServer
from rerun_orchestrator.journal import ChunkStatus
from rerun_orchestrator.journal._postgres import PostgresJournal
from rerun_orchestrator.run._shared_pacer import shared_pacer_for

D0 = date(2024, 1, 1)


@pytest.fixture
def own_server(postgres_server):
    server = ThrowawayServer.create()
    server.start()
    try:
        yield server
    finally:
        server.remove()


def test_journal_calls_and_reservations_wait_out_a_restart(own_server, chunk) -> None:
    journal = PostgresJournal.open(
        own_server.url, plan_name="p", plan_digest="d", timezone="UTC", outage_seconds=60
    )
    unreachable = threading.Event()

    def notice(_logger, _name, event_dict):
        if event_dict.get("event") == "rerun.journal.unreachable":
            unreachable.set()
        raise structlog.DropEvent

    saved = structlog.get_config()
    structlog.configure(processors=[notice])
    try:
        pacer = shared_pacer_for(journal, "acct", "RerunJob", 100.0)
        assert pacer is not None
        first, second = chunk(1, D0), chunk(2, D0)
        journal.sync([first, second])
        anyio.run(journal.mark_in_flight, first.key, 1.0)
        journal.record_outcome(first.key, ChunkStatus.SUCCEEDED, request_id="R1")
        journal.flush()
        own_server.stop("immediate")
        done: dict[str, object] = {}

        def during_outage() -> None:
            done["wait"] = pacer.reserve()
            done["mark"] = anyio.run(journal.mark_in_flight, second.key, 2.0)

        worker = threading.Thread(target=during_outage)
        worker.start()
        assert unreachable.wait(30), "no call waited for the database"
        own_server.start()
        worker.join(60)
        assert not worker.is_alive()
        assert done["wait"] is not None
        journal.record_outcome(second.key, ChunkStatus.SUCCEEDED, request_id="R2")
        journal.flush()
        statuses = {r.key: r.status for r in journal.records()}
    finally:
        structlog.configure(**saved)
        journal.close()
    assert statuses == {first.key: ChunkStatus.SUCCEEDED, second.key: ChunkStatus.SUCCEEDED}
