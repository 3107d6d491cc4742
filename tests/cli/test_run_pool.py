"""`run` keeps a connection per call in flight: no call waits for one, none times out for it.

The first release kept aiohttp's default pool of 32 whatever `--concurrency` said, and a
wait for a pooled connection counted against the connect timeout: calls beyond 32 failed
as "not sent" (or timed out after they were sent) against a healthy server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from rerun_orchestrator.cli import main
from rerun_orchestrator.journal import ChunkStatus, SqliteJournal
from rerun_orchestrator.run import _session as command
from rerun_orchestrator.schedulerx import (
    AiohttpTransport,
    HttpRequest,
    RequestNotSentError,
    Timeouts,
    pool_size,
)
from rerun_orchestrator.simulator import (
    CredentialSpec,
    FaultRule,
    JobSpec,
    SimulatorConfig,
    SimulatorThread,
)

KEY, SECRET = "pool-key", "pool-secret"
JOBS = 40  # more than aiohttp's default pool of 32
PLAN = f"""\
version: 1
name: pool
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns-1
group: g1
data_time: "10:00:00"
chunk_days: 1
targets:
  - jobs: ["1-{JOBS}"]
    windows: [{{start: 2024-01-01, end: 2024-01-01}}]
execution: {{rate: 1000/s, concurrency: {JOBS}}}
"""


def test_every_call_in_flight_has_its_own_connection(
    start_simulator: Callable[[SimulatorConfig], SimulatorThread],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # every answer comes 0.5 s late, so all 40 calls are in flight at once
    sim = start_simulator(
        SimulatorConfig(
            credentials=(CredentialSpec(KEY, SECRET),),
            jobs=(JobSpec("cn-hangzhou", "ns-1", "g1", ((1, JOBS),), max_concurrency=10),),
            quota={"RerunJob": None, "GetJobInstanceList": None, "GetJobInfo": None},
            instance_wait_seconds=0.0,
            instance_run_seconds=0.0,
            faults=(FaultRule("slow_after_commit", delay_seconds=0.5, actions=("RerunJob",)),),
        )
    )
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    pools: list[int] = []

    class Recorded(AiohttpTransport):  # the real transport; notes the pool it was given
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            pools.append(self.limit)

    monkeypatch.setattr(command, "AiohttpTransport", Recorded)
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    journal = tmp_path / "j.sqlite"
    args = ["run", str(plan), "--endpoint", sim.url, "--journal", str(journal)]
    # about sending: the instances' outcomes are not its subject (tests/e2e/test_watch.py)
    # nor the reads before it: 40 jobs' pre-flight and guard at the default read pace of
    # 100/min took 70 s (the simulator reads as fast as asked)
    assert main([*args, "--no-progress", "--no-watch", "--read-rate", "1000/s"]) == 0
    assert len(sim.calls()) == JOBS
    with SqliteJournal.open_readonly(journal) as j:
        records = list(j.records())
    assert {r.status for r in records} == {ChunkStatus.SUCCEEDED}
    assert {r.attempts for r in records} == {1}  # no call was retried or reconciled
    assert pools == [pool_size(JOBS)]
    assert pool_size(JOBS) > JOBS  # a connection per call, and room for the reconciler's reads


@pytest.mark.asyncio
async def test_a_wait_for_a_pooled_connection_is_not_a_connect_timeout() -> None:
    """With more callers than connections, the extra ones wait their turn (however long
    that takes) and are then sent; the connect timeout measures connecting only."""
    arrived = asyncio.Event()
    release = asyncio.Event()
    received = 0

    async def handle(request: web.Request) -> web.Response:
        nonlocal received
        received += 1
        arrived.set()
        await release.wait()
        return web.Response(body=b"{}", content_type="application/json")

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    transport = AiohttpTransport(timeouts=Timeouts(connect=0.05, read=5.0, total=10.0), limit=1)
    request = HttpRequest("POST", f"http://127.0.0.1:{port}/", {}, b"x")
    try:
        holder = asyncio.ensure_future(transport.send(request))
        await arrived.wait()
        waiter = asyncio.ensure_future(transport.send(request))
        await asyncio.sleep(0.3)  # six connect timeouts: the wait is not one
        assert not waiter.done()
        assert received == 1  # the waiter has not been sent yet
        release.set()
        answers: list[Any] = await asyncio.gather(holder, waiter)
        assert [a.status for a in answers] == [200, 200]
        assert received == 2
        await transport.aclose()
        with pytest.raises(RequestNotSentError):
            await transport.send(request)
    finally:
        release.set()
        await transport.aclose()
        await runner.cleanup()
