"""Each fault kind over HTTP; the after-commit kinds must really commit the rerun."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from rerun_orchestrator.simulator import FaultRule, Simulator

pytestmark = pytest.mark.asyncio
StartSim = Callable[..., Awaitable[Simulator]]


async def armed(start_sim: StartSim, *rules: FaultRule) -> Simulator:
    sim = await start_sim()
    sim.set_faults(rules)
    return sim


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [("throttle", 400, "Throttling.User"), ("unavailable", 503, "ServiceUnavailable")],
)
async def test_pre_commit_errors_do_not_commit(
    start_sim: StartSim, raw: Any, params: Any, kind: str, status: int, code: str
) -> None:
    sim = await armed(start_sim, FaultRule(kind, budget=1))
    reply = await raw(sim).v3("RerunJob", params.rerun())
    assert reply.status == status
    body = reply.json()
    assert body["Code"] == code
    assert body["RequestId"] == reply.headers["x-acs-request-id"]
    assert sim.calls() == []
    assert sim.instances() == []
    assert sim.counters()["RerunJob"]["faults"] == {kind: 1}
    # Budget spent: the next call goes through.
    assert (await raw(sim).v3("RerunJob", params.rerun())).status == 200


async def test_throttle_fault_can_hint_and_use_another_code(
    start_sim: StartSim, raw: Any, params: Any
) -> None:
    sim = await armed(start_sim, FaultRule("throttle", retry_after_ms=1500, code="Throttling.Api"))
    reply = await raw(sim).v3("RerunJob", params.rerun())
    assert (reply.status, reply.json()["Code"]) == (400, "Throttling.Api")
    assert reply.headers["x-acs-retry-after"] == "1500"


async def test_non_json_is_an_html_502_and_does_not_commit(
    start_sim: StartSim, raw: Any, params: Any
) -> None:
    sim = await armed(start_sim, FaultRule("non_json"))
    reply = await raw(sim).v3("RerunJob", params.rerun())
    assert reply.status == 502
    assert reply.headers["Content-Type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        reply.json()
    assert sim.calls() == []


async def test_reset_before_commit(start_sim: StartSim, raw: Any, params: Any) -> None:
    sim = await armed(start_sim, FaultRule("reset", budget=1))
    with pytest.raises(aiohttp.ClientError):
        await raw(sim).v3("RerunJob", params.rerun())
    assert sim.calls() == []
    assert sim.requests()[-1]["fault"] == "reset"


async def test_internal_error_after_commit_commits(
    start_sim: StartSim, raw: Any, params: Any
) -> None:
    sim = await armed(start_sim, FaultRule("internal_error_after_commit", budget=1))
    reply = await raw(sim).v3("RerunJob", params.rerun())
    assert reply.status == 500
    body = reply.json()
    assert body["Code"] == "InternalError"
    [call] = sim.calls()
    assert call["request_id"] == body["RequestId"]
    instances = sim.instances(10)
    assert len(instances) == 4
    assert {i["request_id"] for i in instances} == {body["RequestId"]}


async def test_reset_after_commit_commits(start_sim: StartSim, raw: Any, params: Any) -> None:
    sim = await armed(start_sim, FaultRule("reset_after_commit", budget=1))
    with pytest.raises(aiohttp.ClientError):
        await raw(sim).v3("RerunJob", params.rerun())
    [call] = sim.calls()
    assert len(sim.instances(10)) == 4
    # The client never saw it, but the server's records carry the RequestId.
    assert sim.requests()[-1]["request_id"] == call["request_id"]


async def test_slow_after_commit_commits_before_the_client_gives_up(
    start_sim: StartSim, raw: Any, params: Any, http: Any
) -> None:
    sim = await armed(start_sim, FaultRule("slow_after_commit", delay_seconds=30.0, budget=1))
    client = raw(sim)
    waiting = asyncio.create_task(client.v3("RerunJob", params.rerun()))
    # Until the server has the call (however loaded the machine: no fixed timeout), then
    # the client gives up: it was still waiting for the answer the server holds back.
    async with asyncio.timeout(20):
        while not sim.calls():
            assert not waiting.done(), "answered before the server recorded the call"
            await asyncio.sleep(0.01)
    assert not waiting.done()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    [call] = sim.calls()
    assert call["job_id"] == 10
    assert len(sim.instances(10)) == 4
    # stop() answers sleeping requests at once rather than waiting 30 s (the fixture stops it).


async def test_slow_after_commit_answers_late(start_sim: StartSim, raw: Any, params: Any) -> None:
    sim = await armed(start_sim, FaultRule("slow_after_commit", delay_seconds=0.3))
    loop = asyncio.get_running_loop()
    began = loop.time()
    reply = await raw(sim).v3("RerunJob", params.rerun())
    assert loop.time() - began >= 0.3
    assert reply.status == 200
    assert reply.json()["Success"] is True


async def test_slow_answer_sleeps_on_the_injected_clock(
    start_sim: StartSim, raw: Any, params: Any, clock: Any
) -> None:
    sim = await start_sim(clock=clock)
    sim.set_faults([FaultRule("slow_after_commit", delay_seconds=3600.0)])
    before = clock.wall()
    reply = await raw(sim, wall=clock.wall).v3("RerunJob", params.rerun())
    assert reply.status == 200
    assert clock.wall() - before == pytest.approx(3600.0)


async def test_non_json_after_commit_commits(start_sim: StartSim, raw: Any, params: Any) -> None:
    sim = await armed(start_sim, FaultRule("non_json_after_commit", budget=1))
    reply = await raw(sim).v3("RerunJob", params.rerun())
    assert reply.status == 200
    with pytest.raises(json.JSONDecodeError):
        reply.json()
    assert len(sim.calls()) == 1
    assert sim.calls()[0]["request_id"] == reply.headers["x-acs-request-id"]


async def test_faults_can_target_one_action(start_sim: StartSim, raw: Any, params: Any) -> None:
    sim = await armed(start_sim, FaultRule("unavailable", actions=("GetJobInstanceList",)))
    client = raw(sim)
    assert (await client.v3("RerunJob", params.rerun())).status == 200
    assert (await client.v3("GetJobInstanceList", params.listing(), method="GET")).status == 503


async def test_every_nth_fires_deterministically(
    start_sim: StartSim, raw: Any, params: Any
) -> None:
    sim = await armed(start_sim, FaultRule("unavailable", every_nth=3))
    statuses = [(await raw(sim).v3("RerunJob", params.rerun())).status for _ in range(6)]
    assert statuses == [200, 200, 503, 200, 200, 503]
    assert len(sim.calls()) == 4


async def test_probability_is_seeded_per_simulator(
    start_sim: StartSim, make_config: Any, raw: Any, params: Any
) -> None:
    async def pattern(seed: int) -> list[int]:
        sim = await start_sim(
            make_config(seed=seed, faults=(FaultRule("unavailable", probability=0.5),))
        )
        return [(await raw(sim).v3("RerunJob", params.rerun())).status for _ in range(16)]

    first, again, other = await pattern(3), await pattern(3), await pattern(4)
    assert first == again
    assert first != other
    assert 200 in first
    assert 503 in first


async def test_faults_over_http(
    start_sim: StartSim, raw: Any, params: Any, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim()
    rules = {"faults": [{"kind": "throttle", "budget": 1}, {"kind": "unavailable", "every_nth": 2}]}
    async with http.post(f"{sim.url}/_simulator/faults", json=rules) as resp:
        assert resp.status == 200
        snapshot = await resp.json()
    assert [r["kind"] for r in snapshot] == ["throttle", "unavailable"]
    statuses = [(await raw(sim).v3("RerunJob", params.rerun())).status for _ in range(3)]
    assert statuses == [400, 200, 503]
    async with http.get(f"{sim.url}/_simulator/faults") as resp:
        state = await resp.json()
    assert (state[0]["fired"], state[0]["remaining"]) == (1, 0)
    assert (state[1]["seen"], state[1]["fired"]) == (2, 1)
    async with http.post(f"{sim.url}/_simulator/faults", json=[{"kind": "explode"}]) as resp:
        assert resp.status == 400
        assert "unknown fault kind" in (await resp.json())["error"]
    async with http.post(f"{sim.url}/_simulator/faults", json=[]) as resp:
        assert await resp.json() == []
    assert (await raw(sim).v3("RerunJob", params.rerun())).status == 200


async def test_counters_and_reset(
    start_sim: StartSim, raw: Any, params: Any, http: aiohttp.ClientSession
) -> None:
    sim = await armed(start_sim, FaultRule("unavailable", budget=1))
    client = raw(sim)
    await client.v3("RerunJob", params.rerun())  # fault
    await client.v3("RerunJob", params.rerun())  # accepted
    await client.v3("RerunJob", params.rerun(job_id=999))  # business failure
    await client.v3("RerunJob", params.rerun(), secret="bad")  # rejected
    async with http.get(f"{sim.url}/_simulator/counters") as resp:
        counters = await resp.json()
    assert counters["RerunJob"] == {
        "requests": 4,
        "accepted": 2,
        "business_failures": 1,
        "rejected": 1,
        "throttled": 0,
        "faults": {"unavailable": 1},
    }
    assert counters["_totals"] == {"calls": 1, "instances": 4, "retries": 0, "skipped": 0}
    async with http.post(f"{sim.url}/_simulator/reset") as resp:
        assert resp.status == 200
    assert sim.calls() == []
    assert sim.instances() == []
    assert sim.counters() == {"_totals": {"calls": 0, "instances": 0, "retries": 0, "skipped": 0}}
    # The fault is re-armed with its full budget.
    assert (await client.v3("RerunJob", params.rerun())).status == 503


async def test_a_simulator_bug_answers_internal_error(
    start_sim: StartSim,
    raw: Any,
    params: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = await start_sim()

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(sim._gateway, "handle", broken)
    reply = await raw(sim).v3("RerunJob", params.rerun())
    assert (reply.status, reply.json()["Code"]) == (500, "InternalError")
    assert "simulator bug" in caplog.text
