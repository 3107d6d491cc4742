"""Never block the loop on PostgreSQL: a run on a PostgreSQL journal (leases, the shared
pacer, a throttle) makes no database call on the event loop's thread.

Each journal call is a network round trip, and while the database restarts a wait of up
to minutes; on the loop it would freeze every other callback of the service for as long.
Every statement psycopg executes is recorded with the thread it ran on, so the test
fails on the first call made on the loop, whatever its latency here.
"""

from __future__ import annotations

import threading
import traceback

import anyio
import psycopg
import pytest

import rerun_orchestrator as ro
from rerun_orchestrator.journal._postgres import PostgresJournal
from rerun_orchestrator.run._shared_pacer import shared_pacer_for
from rerun_orchestrator.schedulerx import ApiResponse

PLAN = """
version: 1
name: remote
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns-1
group: g1
data_time: "01:00:00"
chunk_days: 1
targets:
  - jobs: ["1-6"]
    windows: [{start: 2024-01-01, end: 2024-01-05}]
execution: {rate: 1000/s, concurrency: 4}
"""


class ThrottlingClient:
    """Accepts every call but the third, which is throttled once (and then resent)."""

    def __init__(self) -> None:
        self.sent = 0

    async def rerun_job(self, params: ro.RerunJobParams) -> ro.AttemptResult:
        self.sent += 1
        if self.sent == 3:
            response = ApiResponse(400, f"REQ-{self.sent}", "Throttling.User", False, "quota")
            return ro.AttemptResult(ro.Verdict.RETRY, "throttled", response, throttle=True)
        response = ApiResponse(200, f"REQ-{self.sent}", 200, True, None)
        return ro.AttemptResult(ro.Verdict.SUCCEEDED, "accepted", response, elapsed_ms=1.0)


@pytest.mark.asyncio
async def test_a_run_on_postgresql_never_calls_the_database_on_the_loop(
    postgres_url, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = ro.load_plan_text(PLAN, source="remote")
    journal = PostgresJournal.open(
        postgres_url, plan_name=plan.name, plan_digest="d", timezone=plan.timezone
    )
    pacer = shared_pacer_for(journal, "acct", "RerunJob", 1000.0)
    loop_thread = threading.current_thread()
    on_loop: list[str] = []

    def watched(method):
        def execute(self, query, *args, **kwargs):
            if threading.current_thread() is loop_thread:
                on_loop.append("".join(traceback.format_stack(limit=8)))
            return method(self, query, *args, **kwargs)

        return execute

    monkeypatch.setattr(psycopg.Cursor, "execute", watched(psycopg.Cursor.execute))
    monkeypatch.setattr(psycopg.Cursor, "executemany", watched(psycopg.Cursor.executemany))
    client = ThrottlingClient()
    try:
        result = await ro.run_plan(plan, client=client, journal=journal, limiter=pacer)
        await anyio.to_thread.run_sync(journal.flush)
    finally:
        monkeypatch.undo()
        journal.close()
    assert result.counts.succeeded == 30
    assert client.sent == 31  # the throttled call was resent: the pacer was told
    assert on_loop == [], f"{len(on_loop)} database calls on the loop; the first:\n{on_loop[0]}"
