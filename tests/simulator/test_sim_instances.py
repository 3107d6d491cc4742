"""Instances: one per day in the server's zone, their progress, history, and business failures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time
from typing import Any

import aiohttp
import pytest

from rerun_orchestrator.simulator import JobSpec, Simulator
from rerun_orchestrator.simulator._calendar import load_zone, local_ms

pytestmark = pytest.mark.asyncio
StartSim = Callable[..., Awaitable[Simulator]]
MIDNIGHT = time(0, 0, 0)


def ms(day: date, zone: str, at: time = MIDNIGHT) -> int:
    return local_ms(day, at, load_zone(zone))


async def listed(client: Any, params: Any, **kw: str) -> list[dict[str, Any]]:
    reply = await client.v3("GetJobInstanceList", params.listing(**kw), method="GET")
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["Success"] is True, body
    return list(body["Data"]["JobInstanceDetails"])


@pytest.mark.parametrize(
    ("zone", "first", "last", "expected"),
    [
        # DST starts at midnight: 2018-11-04 00:00 never existed in São Paulo.
        (
            "America/Sao_Paulo",
            date(2018, 11, 3),
            date(2018, 11, 5),
            ["2018-11-03", "2018-11-04", "2018-11-05"],
        ),
        (
            "America/Sao_Paulo",
            date(2019, 2, 16),
            date(2019, 2, 17),
            ["2019-02-16", "2019-02-17"],
        ),  # DST end
        (
            "Europe/London",
            date(2024, 3, 30),
            date(2024, 4, 1),
            ["2024-03-30", "2024-03-31", "2024-04-01"],
        ),
        ("Europe/London", date(2024, 10, 26), date(2024, 10, 27), ["2024-10-26", "2024-10-27"]),
        (
            "Asia/Shanghai",
            date(2024, 2, 27),
            date(2024, 3, 2),
            ["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02"],
        ),
        ("Asia/Shanghai", date(2023, 12, 31), date(2024, 1, 1), ["2023-12-31", "2024-01-01"]),
    ],
)
async def test_one_instance_per_server_day(
    start_sim: StartSim,
    make_config: Any,
    raw: Any,
    params: Any,
    zone: str,
    first: date,
    last: date,
    expected: list[str],
) -> None:
    sim = await start_sim(make_config(server_timezone=zone))
    reply = await raw(sim).v3(
        "RerunJob", params.rerun(start=ms(first, zone), end=ms(last, zone), DataTime="00:30:00")
    )
    assert reply.json()["Success"] is True
    rows = sim.instances(10)
    assert [r["data_time"] for r in rows] == [f"{d} 00:30:00" for d in expected]
    assert {r["trigger_type"] for r in rows} == {2}
    assert len({r["schedule_time"] for r in rows}) == 1  # one shared schedule time


async def test_days_are_cut_in_the_server_zone_not_the_callers(
    start_sim: StartSim, raw: Any, params: Any
) -> None:
    sim = await start_sim()  # Asia/Shanghai
    tokyo_midnight = ms(date(2024, 5, 10), "Asia/Tokyo")
    await raw(sim).v3("RerunJob", params.rerun(start=tokyo_midnight, end=tokyo_midnight))
    assert [r["data_time"] for r in sim.instances(10)] == ["2024-05-09 10:00:00"]


async def test_schedule_time_is_now_in_the_server_zone(
    start_sim: StartSim, raw: Any, params: Any, clock: Any
) -> None:
    sim = await start_sim(clock=clock)
    await raw(sim, wall=clock.wall).v3("RerunJob", params.rerun())
    now = datetime.fromtimestamp(clock.wall(), tz=UTC).astimezone(load_zone("Asia/Shanghai"))
    assert {r["schedule_time"] for r in sim.instances(10)} == {now.strftime("%Y-%m-%d %H:%M:%S")}


async def test_progress_waiting_running_success_one_at_a_time(
    start_sim: StartSim, make_config: Any, raw: Any, params: Any, clock: Any
) -> None:
    config = make_config(
        instance_wait_seconds=1.0, instance_run_seconds=2.0, instance_list_order="oldest_first"
    )
    sim = await start_sim(config, clock=clock)
    client = raw(sim, wall=clock.wall)
    await client.v3("RerunJob", params.rerun(end=1_645_459_200_000 + 2 * 86_400_000))  # 3 days

    timeline = []
    for step in (0.0, 1.5, 2.0, 2.0, 2.0):
        clock.advance(step)
        timeline.append([row["Status"] for row in await listed(client, params)])
    assert timeline == [[1, 1, 1], [3, 1, 1], [4, 3, 1], [4, 4, 3], [4, 4, 4]]

    rows = await listed(client, params)
    assert all("StartTime" in r and "EndTime" in r for r in rows)
    # Each started when the previous one ended (max concurrency 1).
    assert [r["StartTime"] for r in rows[1:]] == [r["EndTime"] for r in rows[:-1]]


async def test_waiting_rows_have_no_start_or_end(
    start_sim: StartSim, raw: Any, params: Any, clock: Any
) -> None:
    sim = await start_sim(clock=clock)
    client = raw(sim, wall=clock.wall)
    await client.v3("RerunJob", params.rerun())
    row = (await listed(client, params))[0]
    assert row["Status"] == 1
    assert "StartTime" not in row
    assert "EndTime" not in row


async def test_max_concurrency_bounds_running_instances(
    start_sim: StartSim, make_config: Any, raw: Any, params: Any, clock: Any
) -> None:
    jobs = (JobSpec("cn-hangzhou", "ns-1", "g1", ((10, 10),), max_concurrency=2),)
    sim = await start_sim(
        make_config(jobs=jobs, instance_wait_seconds=0.0, instance_run_seconds=10.0), clock=clock
    )
    client = raw(sim, wall=clock.wall)
    await client.v3("RerunJob", params.rerun(end=1_645_459_200_000 + 4 * 86_400_000))  # 5 days
    for _ in range(12):
        statuses = [r["status"] for r in sim.instances(10)]
        assert statuses.count(3) <= 2
        clock.advance(2.5)
    assert [r["status"] for r in sim.instances(10)] == [4] * 5


async def test_a_second_rerun_queues_behind_the_first(
    start_sim: StartSim, make_config: Any, raw: Any, params: Any, clock: Any
) -> None:
    sim = await start_sim(
        make_config(instance_wait_seconds=0.0, instance_run_seconds=5.0), clock=clock
    )
    client = raw(sim, wall=clock.wall)
    await client.v3("RerunJob", params.rerun(end=1_645_459_200_000))
    clock.advance(1.0)
    await client.v3("RerunJob", params.rerun(end=1_645_459_200_000))
    clock.advance(1.0)
    assert [r["status"] for r in sim.instances(10)] == [3, 1]
    clock.advance(4.0)
    assert [r["status"] for r in sim.instances(10)] == [4, 3]


async def test_failure_rate(
    start_sim: StartSim, make_config: Any, raw: Any, params: Any, clock: Any
) -> None:
    sim = await start_sim(
        make_config(failure_rate=1.0, instance_wait_seconds=0.0, instance_run_seconds=1.0),
        clock=clock,
    )
    client = raw(sim, wall=clock.wall)
    await client.v3("RerunJob", params.rerun())
    clock.advance(60)
    failed = await listed(client, params, Status="5")
    assert len(failed) == 4
    assert {r["Result"] for r in failed} == {"simulated failure"}
    assert await listed(client, params, Status="4") == []


def history_config(make_config: Any, **kw: Any) -> Any:
    jobs = (
        JobSpec(
            "cn-hangzhou",
            "ns-1",
            "g1",
            ((10, 10),),
            history=(date(2024, 1, 1), date(2024, 1, 10)),
            history_time="00:30:00",
        ),
    )
    return make_config(jobs=jobs, **kw)


async def test_history_of_scheduled_instances(
    start_sim: StartSim, make_config: Any, raw: Any, params: Any
) -> None:
    sim = await start_sim(history_config(make_config, instance_list_order="oldest_first"))
    rows = await listed(raw(sim), params, PageSize="100")
    assert len(rows) == 10
    assert rows[0]["DataTime"] == rows[0]["ScheduleTime"] == "2024-01-01 00:30:00"
    assert {(r["TriggerType"], r["Status"]) for r in rows} == {(1, 4)}


async def test_schedule_time_window_finds_only_the_rerun(
    start_sim: StartSim, make_config: Any, raw: Any, params: Any, clock: Any
) -> None:
    sim = await start_sim(history_config(make_config), clock=clock)
    client = raw(sim, wall=clock.wall)
    sent_at = int(clock.wall() * 1000)
    start, end = ms(date(2024, 1, 3), "Asia/Shanghai"), ms(date(2024, 1, 4), "Asia/Shanghai")
    await client.v3("RerunJob", params.rerun(start=start, end=end))
    window = {
        "StartTimestamp": str(sent_at - 1000),
        "EndTimestamp": str(sent_at + 60_000),
        "PageSize": "100",
    }
    rows = await listed(client, params, **window)
    assert [r["DataTime"] for r in rows] == [
        "2024-01-04 10:00:00",
        "2024-01-03 10:00:00",
    ]  # newest first
    assert {r["TriggerType"] for r in rows} == {2}
    assert len(await listed(client, params, PageSize="100")) == 12


async def test_data_time_window_finds_history_and_rerun(
    start_sim: StartSim, make_config: Any, raw: Any, params: Any
) -> None:
    sim = await start_sim(
        history_config(
            make_config, instance_list_filter="data_time", instance_list_order="oldest_first"
        )
    )
    client = raw(sim)
    start, end = ms(date(2024, 1, 3), "Asia/Shanghai"), ms(date(2024, 1, 4), "Asia/Shanghai")
    await client.v3("RerunJob", params.rerun(start=start, end=end))
    window = {"StartTimestamp": str(start), "EndTimestamp": str(end + 86_400_000 - 1)}
    rows = await listed(client, params, **window)
    assert [(r["DataTime"], r["TriggerType"]) for r in rows] == [
        ("2024-01-03 00:30:00", 1),
        ("2024-01-04 00:30:00", 1),
        ("2024-01-03 10:00:00", 2),
        ("2024-01-04 10:00:00", 2),
    ]


async def test_page_size_cap_is_configurable(
    start_sim: StartSim, make_config: Any, raw: Any, params: Any
) -> None:
    sim = await start_sim(history_config(make_config, instance_list_max_page_size=4))
    assert len(await listed(raw(sim), params, PageSize="100")) == 4
    assert len(await listed(raw(sim), params, PageSize="4", PageNum="3")) == 2


async def test_get_job_instance(start_sim: StartSim, raw: Any, params: Any) -> None:
    sim = await start_sim()
    client = raw(sim)
    await client.v3("RerunJob", params.rerun())
    instance_id = sim.instances(10)[0]["instance_id"]
    reply = await client.v3(
        "GetJobInstance", params.listing(JobInstanceId=str(instance_id)), method="GET"
    )
    detail = reply.json()["Data"]["JobInstanceDetail"]
    assert (detail["InstanceId"], detail["JobName"]) == (instance_id, "job-10")
    missing = await client.v3("GetJobInstance", params.listing(JobInstanceId="1"), method="GET")
    assert missing.json()["Success"] is False


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"JobId": "999"}, "jobId=999 is not existed"),
        ({"JobId": "30"}, "jobid: 30 not match groupId: g1"),
        ({"JobId": "300", "GroupId": "basic.group"}, "professional edition"),
        ({"EndDate": "1645459199999"}, "endDate must not be earlier than startDate"),
        ({"DataTime": "25:00:00"}, "dataTime format"),
        ({"Namespace": "ns-x"}, "namespace can not find namespace: ns-x, namespaceSource:null"),
        ({"GroupId": "nope"}, "groupid not exist groupId: nope namespace: ns-1"),
        ({"NamespaceSource": "schedulerx"}, "namespace: ns-1, namespaceSource:schedulerx"),
        ({"JobId": "400", "Namespace": "ns-src", "GroupId": "gs"}, "namespace can not find"),
    ],
)
async def test_business_failures_are_http_200_success_false(
    start_sim: StartSim, raw: Any, params: Any, overrides: dict[str, str], message: str
) -> None:
    sim = await start_sim()
    reply = await raw(sim).v3("RerunJob", params.rerun(**overrides))
    assert reply.status == 200
    body = reply.json()
    assert body["Success"] is False
    assert isinstance(body["Code"], int)
    assert body["Code"] != 200
    assert message in body["Message"]
    assert sim.calls() == []
    assert sim.counters()["RerunJob"]["business_failures"] == 1


async def test_namespace_source_when_the_job_needs_one(
    start_sim: StartSim, raw: Any, params: Any
) -> None:
    sim = await start_sim()
    reply = await raw(sim).v3(
        "RerunJob",
        params.rerun(JobId="400", Namespace="ns-src", GroupId="gs", NamespaceSource="schedulerx"),
    )
    assert reply.json()["Success"] is True


async def test_business_codes_and_day_limit_are_configurable(
    start_sim: StartSim, make_config: Any, raw: Any, params: Any
) -> None:
    sim = await start_sim(
        make_config(business_error_codes={"job_not_found": 404}, max_rerun_days=3)
    )
    assert (await raw(sim).v3("RerunJob", params.rerun(job_id=999))).json()["Code"] == 404
    too_long = (await raw(sim).v3("RerunJob", params.rerun())).json()  # 4 days
    assert (too_long["Success"], too_long["Code"]) == (False, 500)
    assert "3 days" in too_long["Message"]


async def test_unknown_region_is_a_gateway_error(
    start_sim: StartSim, raw: Any, params: Any
) -> None:
    sim = await start_sim()
    reply = await raw(sim).v3("RerunJob", params.rerun(RegionId="mars-1"))
    assert (reply.status, reply.json()["Code"]) == (400, "InvalidRegionId")


async def test_huge_ranges_are_materialised_per_job(
    start_sim: StartSim, raw: Any, params: Any
) -> None:
    sim = await start_sim()  # jobs 1000-100000 in g1
    assert (await raw(sim).v3("RerunJob", params.rerun(job_id=99_999))).json()["Success"] is True
    assert {r["job_id"] for r in sim.instances()} == {99_999}
    assert (await raw(sim).v3("RerunJob", params.rerun(job_id=100_001))).json()["Success"] is False


async def test_inspection_routes(
    start_sim: StartSim, raw: Any, params: Any, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim()
    await raw(sim).v3("RerunJob", params.rerun())
    await raw(sim).v3("RerunJob", params.rerun(job_id=11))
    async with http.get(f"{sim.url}/_simulator/calls") as resp:
        calls = await resp.json()
    assert calls == sim.calls()
    assert [c["job_id"] for c in calls] == [10, 11]  # oldest first
    assert all(
        set(c)
        == {
            "request_id",
            "access_key_id",
            "region",
            "namespace",
            "group_id",
            "job_id",
            "start_date",
            "end_date",
            "data_time",
        }
        for c in calls
    )
    async with http.get(f"{sim.url}/_simulator/instances?job_id=11") as resp:
        rows = await resp.json()
    assert len(rows) == 4
    assert {r["request_id"] for r in rows} == {calls[1]["request_id"]}
    async with http.get(f"{sim.url}/_simulator/instances?job_id=x") as resp:
        assert resp.status == 400
    async with http.get(f"{sim.url}/_simulator/requests") as resp:
        log = await resp.json()
    assert [(e["action"], e["http_status"]) for e in log] == [("RerunJob", 200), ("RerunJob", 200)]
