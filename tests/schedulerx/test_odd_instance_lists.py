"""Never resend on doubt: a GetJobInstanceList answer in an odd shape is UNDECIDABLE.

Issue 11 measured it: answers that succeed but lack ``JobInstanceDetails``, have it null
or spelled otherwise, or hold rows without their trigger type or times read as "no
instance", and the reconciler resent chunks that had been applied (4 chunks committed 14
times). Each shape here goes over real HTTP to the real client and the real reconciler.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from rerun_orchestrator.journal import ChunkRecord, ChunkStatus, ReconcileOutcome
from rerun_orchestrator.plan._model import Chunk
from rerun_orchestrator.run import Reconciler
from rerun_orchestrator.schedulerx import (
    ApiCallError,
    Credentials,
    InstanceListQuery,
    SchedulerXClient,
    StaticCredentialsProvider,
    Timeouts,
    Verdict,
)

DAY = date(2024, 1, 1)
ROW = {
    "InstanceId": 1,
    "JobId": 5,
    "Status": 4,
    "TriggerType": 2,
    "DataTime": "2024-01-01 10:00:00",
    "ScheduleTime": "2024-01-02 11:04:06",
}
SHAPES = {
    "no JobInstanceDetails": {"Total": 0},
    "JobInstanceDetails null": {"JobInstanceDetails": None},
    "another spelling": {"jobInstanceDetails": []},
    "JobInstanceDetails not a list": {"JobInstanceDetails": {"0": ROW}},
    "a row without TriggerType": {"JobInstanceDetails": [{**ROW, "TriggerType": None}]},
    "a row without DataTime": {
        "JobInstanceDetails": [{k: v for k, v in ROW.items() if k != "DataTime"}]
    },
    "a row without ScheduleTime": {"JobInstanceDetails": [{**ROW, "ScheduleTime": ""}]},
    "no Data": None,
}


@pytest_asyncio.fixture
async def make_client(server: Any, clock: Any) -> AsyncIterator[Callable[[], SchedulerXClient]]:
    clients: list[SchedulerXClient] = []

    def make() -> SchedulerXClient:
        keys = StaticCredentialsProvider(Credentials("testid", "testsecret"))
        timeouts = Timeouts(connect=1.0, read=2.0, total=5.0)
        clients.append(SchedulerXClient(keys, endpoint=server.url, clock=clock, timeouts=timeouts))
        return clients[-1]

    yield make
    for client in clients:
        await client.aclose()


def _reply_with(data: Any) -> Any:
    async def reply(request: web.Request, received: Any) -> web.StreamResponse:
        body: dict[str, Any] = {"RequestId": "ODD", "Code": 200, "Success": True}
        if data is not None:
            body["Data"] = data
        return web.json_response(body)

    return reply


@pytest.mark.asyncio
@pytest.mark.parametrize("shape", SHAPES)
async def test_an_odd_page_is_a_retryable_read_error(
    server: Any, make_client: Any, shape: str
) -> None:
    server.reply = _reply_with(SHAPES[shape])
    query = InstanceListQuery(region="cn-hangzhou", namespace="ns", group_id="g", job_id=5)
    with pytest.raises(ApiCallError) as error:
        await make_client().get_job_instance_list(query)
    assert error.value.result.verdict is Verdict.RETRY
    assert "malformed" in str(error.value)


@pytest.mark.asyncio
@pytest.mark.parametrize("shape", SHAPES)
async def test_the_reconciler_never_reads_an_odd_page_as_absent(
    server: Any, make_client: Any, clock: Any, shape: str
) -> None:
    server.reply = _reply_with(SHAPES[shape])
    chunk = Chunk("k", "cn-hangzhou", "ns", None, "g", 5, DAY, DAY, 0, 0, "10:00:00", 1)
    record = ChunkRecord(chunk, ChunkStatus.UNKNOWN, attempts=1, attempt_started_at=clock.wall())
    reconciler = Reconciler(make_client(), clock=clock, timezone="Asia/Shanghai", settle_seconds=0)
    verdict = await reconciler.reconcile(record)
    assert verdict.outcome is ReconcileOutcome.UNDECIDABLE
    assert "nothing was resent" in verdict.reason


@pytest.mark.asyncio
async def test_a_well_formed_empty_page_is_absent(
    server: Any, make_client: Any, clock: Any
) -> None:
    """The control: the same path with a proper answer does prove absence."""
    server.reply = _reply_with({"JobInstanceDetails": [], "Total": 0})
    chunk = Chunk("k", "cn-hangzhou", "ns", None, "g", 5, DAY, DAY, 0, 0, "10:00:00", 1)
    record = ChunkRecord(chunk, ChunkStatus.UNKNOWN, attempts=1, attempt_started_at=clock.wall())
    reconciler = Reconciler(make_client(), clock=clock, timezone="Asia/Shanghai", settle_seconds=0)
    assert (await reconciler.reconcile(record)).outcome is ReconcileOutcome.ABSENT


@pytest.mark.asyncio
@pytest.mark.parametrize("shape", ["no JobInstanceDetails", "a row without TriggerType"])
async def test_a_run_against_odd_read_answers_reruns_no_day_twice(
    server: Any, clock: Any, tmp_path: Any, shape: str
) -> None:
    """The whole executor: every RerunJob answers 500 (it may have applied), every
    GetJobInstanceList answers in an odd shape: each chunk is sent once and ends unknown."""
    from rerun_orchestrator.journal import MemoryJournal  # noqa: PLC0415
    from rerun_orchestrator.plan import load_plan  # noqa: PLC0415
    from rerun_orchestrator.run import RateLimiter, run_plan  # noqa: PLC0415

    async def reply(request: web.Request, received: Any) -> web.StreamResponse:
        if received.action == "RerunJob":
            return server.error(500, "InternalError")
        return await _reply_with(SHAPES[shape])(request, received)

    server.reply = reply
    path = tmp_path / "odd.yaml"
    path.write_text(
        "version: 1\nname: odd\ntimezone: Asia/Shanghai\nregion: cn-hangzhou\n"
        "namespace: ns\ngroup: g\ndata_time: '10:00:00'\nchunk_days: 2\n"
        "targets: [{jobs: [5, 6], windows: [{start: 2024-01-01, end: 2024-01-06}]}]\n"
    )
    plan = load_plan(path)
    async with SchedulerXClient(
        StaticCredentialsProvider(Credentials("testid", "testsecret")),
        endpoint=server.url,
        clock=clock,
        timeouts=Timeouts(connect=1.0, read=2.0, total=5.0),
    ) as client:
        journal = MemoryJournal(clock=clock)
        reconciler = Reconciler(client, clock=clock, timezone="Asia/Shanghai", settle_seconds=0)
        result = await run_plan(
            plan,
            client=client,
            journal=journal,
            reconciler=reconciler,
            clock=clock,
            limiter=RateLimiter(1000.0, clock=clock),
        )
    sent = [r for r in server.received if r.action == "RerunJob"]
    chunks = [(r.form["JobId"], r.form["StartDate"]) for r in sent]
    assert sorted(chunks) == sorted(set(chunks))  # no chunk sent twice
    assert len(chunks) == 6
    assert (result.counts.unknown, result.exit_code) == (6, 1)
    assert all("could not be answered" in (r.reason or "") for r in journal.records())
