"""GetJobInfo and ListGroups, as the official SDK sees them: what a pre-flight learns.

Each kind of wrong job answers as the real service does: an unknown job, a job of another
group, an unknown group or namespace (HTTP 200, ``Success=false``, an integer ``Code``),
an unknown region (a gateway error); a disabled job is found (``Status`` 0), and a basic
edition group shows as ``AppVersion`` 1 in ListGroups.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from alibabacloud_schedulerx220190430 import models
from alibabacloud_schedulerx220190430.client import Client
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi.exceptions import ClientException
from darabonba.runtime import RuntimeOptions

from rerun_orchestrator.schedulerx import (
    ApiCallError,
    Credentials,
    SchedulerXClient,
    StaticCredentialsProvider,
    Verdict,
)
from rerun_orchestrator.simulator import JobSpec, Simulator, SimulatorConfig, SimulatorConfigError

StartSim = Callable[..., Awaitable[Simulator]]
REGION, NS = "cn-hangzhou", "ns-1"


def jobs_config(base: SimulatorConfig) -> SimulatorConfig:
    return replace(
        base,
        jobs=(
            JobSpec(REGION, NS, "g1", ((10, 20),), max_concurrency=3, cron="0 30 2 * * ?"),
            JobSpec(REGION, NS, "g1", ((21, 21),), enabled=False),
            JobSpec(REGION, NS, "g2", ((30, 30),), history_time="01:15:00"),
            JobSpec(REGION, NS, "basic.group", ((300, 300),), edition="basic"),
            JobSpec(REGION, NS, "g2", ((40, 40),), time_type=3, every_seconds=600),
            JobSpec(REGION, NS, "g2", ((41, 41),), time_type=100),
        ),
    )


def sdk(sim: Simulator, v2: bool = False) -> Client:
    config = open_api_models.Config(
        access_key_id="testid",
        access_key_secret="testsecret",
        endpoint=sim.endpoint,
        protocol="http",
        region_id=REGION,
    )
    if v2:
        config.signature_algorithm = "v2"
    return Client(config)


async def job_info(
    sim: Simulator,
    job_id: int,
    *,
    group: str = "g1",
    namespace: str = NS,
    region: str = REGION,
    v2: bool = False,
) -> Any:
    request = models.GetJobInfoRequest(
        region_id=region, namespace=namespace, group_id=group, job_id=job_id
    )
    return await asyncio.to_thread(
        sdk(sim, v2).get_job_info_with_options, request, RuntimeOptions()
    )


async def list_groups(sim: Simulator, namespace: str = NS, **kw: Any) -> Any:
    request = models.ListGroupsRequest(region_id=REGION, namespace=namespace, **kw)
    return await asyncio.to_thread(sdk(sim).list_groups_with_options, request, RuntimeOptions())


@pytest.mark.asyncio
@pytest.mark.parametrize("v2", [False, True], ids=["v3", "v1"])
async def test_a_good_job_tells_its_concurrency_and_schedule(
    start_sim: StartSim, make_config: Any, v2: bool
) -> None:
    sim = await start_sim(jobs_config(make_config()))
    body = (await job_info(sim, 12, v2=v2)).body
    assert (body.code, body.success) == (200, True)
    info = body.data.job_config_info
    assert (info.job_id, info.status, info.max_concurrency) == (12, 1, "3")
    assert (info.time_config.time_type, info.time_config.time_expression) == (1, "0 30 2 * * ?")
    # Without a cron, the schedule is daily at the job's history time.
    other = (await job_info(sim, 30, group="g2", v2=v2)).body.data.job_config_info
    assert (other.max_concurrency, other.time_config.time_expression) == ("1", "0 15 1 * * ?")
    rate = (await job_info(sim, 40, group="g2", v2=v2)).body.data.job_config_info.time_config
    assert (rate.time_type, rate.time_expression) == (3, "600")  # fix_rate, every 600 s
    api = (await job_info(sim, 41, group="g2", v2=v2)).body.data.job_config_info.time_config
    assert (api.time_type, api.time_expression) == (100, "")


@pytest.mark.asyncio
async def test_a_disabled_job_is_found_with_status_0(start_sim: StartSim, make_config: Any) -> None:
    sim = await start_sim(jobs_config(make_config()))
    body = (await job_info(sim, 21)).body
    assert body.success is True
    assert body.data.job_config_info.status == 0


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("job_id", "where", "message"),
    [
        (999, {}, "jobId=999 is not existed"),
        (30, {}, "jobid: 30 not match groupId: g1"),
        (12, {"group": "g9"}, "groupid not exist groupId: g9 namespace: ns-1"),
        (
            12,
            {"namespace": "ns-x"},
            "namespace can not find namespace: ns-x, namespaceSource:null",
        ),
    ],
    ids=["unknown-job", "other-group", "unknown-group", "unknown-namespace"],
)
async def test_wrong_jobs_are_business_failures(
    start_sim: StartSim, make_config: Any, job_id: int, where: dict[str, Any], message: str
) -> None:
    sim = await start_sim(jobs_config(make_config()))
    response = await job_info(sim, job_id, **where)
    assert response.status_code == 200  # the SDK raises nothing: the caller checks Success
    body = response.body
    assert body.success is False
    assert isinstance(body.code, int)
    assert body.code != 200
    assert body.message == message
    assert body.data is None


@pytest.mark.asyncio
async def test_an_unknown_region_is_a_gateway_error(start_sim: StartSim, make_config: Any) -> None:
    sim = await start_sim(jobs_config(make_config()))
    with pytest.raises(ClientException) as info:
        await job_info(sim, 12, region="cn-hangzou")
    assert (info.value.status_code, info.value.code) == (400, "InvalidRegionId")


@pytest.mark.asyncio
async def test_business_codes_are_configurable(start_sim: StartSim, make_config: Any) -> None:
    config = jobs_config(make_config(business_error_codes={"job_not_found": 41090003}))
    sim = await start_sim(config)
    assert (await job_info(sim, 999)).body.code == 41090003


@pytest.mark.asyncio
async def test_list_groups_tells_the_edition(start_sim: StartSim, make_config: Any) -> None:
    sim = await start_sim(jobs_config(make_config()))
    body = (await list_groups(sim)).body
    assert (body.code, body.success) == (200, True)
    editions = {g.group_id: g.app_version for g in body.data.app_groups}
    assert editions == {"g1": 2, "g2": 2, "basic.group": 1}  # 1 Basic, 2 Professional
    named = (await list_groups(sim, app_group_name="g2")).body.data.app_groups
    assert [g.group_id for g in named] == ["g2"]
    missing = (await list_groups(sim, namespace="ns-x")).body
    assert missing.success is False
    assert missing.message == "namespace can not find namespace: ns-x, namespaceSource:null"


def test_config_reads_enabled_and_cron() -> None:
    config = SimulatorConfig.from_mapping(
        {
            "jobs": [
                {
                    "region": REGION,
                    "namespace": NS,
                    "group": "g1",
                    "job_ids": [5],
                    "enabled": False,
                    "cron": "0 0/30 * * * ?",
                }
            ]
        }
    )
    [spec] = config.jobs
    assert (spec.enabled, spec.time_expression) == (False, "0 0/30 * * * ?")
    with pytest.raises(SimulatorConfigError, match=r"jobs\[0\]\.enabled"):
        SimulatorConfig.from_mapping(
            {
                "jobs": [
                    {
                        "region": REGION,
                        "namespace": NS,
                        "group": "g",
                        "job_ids": [1],
                        "enabled": "no",
                    }
                ]
            }
        )
    with pytest.raises(SimulatorConfigError, match="Quartz"):
        JobSpec(REGION, NS, "g", ((1, 1),), cron="0 2 * * *")
    with pytest.raises(SimulatorConfigError, match="every_seconds"):
        JobSpec(REGION, NS, "g", ((1, 1),), time_type=3)
    with pytest.raises(SimulatorConfigError, match="time_type"):
        JobSpec(REGION, NS, "g", ((1, 1),), time_type=2)


@pytest.mark.asyncio
@pytest.mark.parametrize("version", ["v3", "v1"])
async def test_our_client_parses_what_the_simulator_answers(
    start_sim: StartSim, make_config: Any, version: Any
) -> None:
    sim = await start_sim(jobs_config(make_config()))
    credentials = StaticCredentialsProvider(Credentials("testid", "testsecret"))
    async with SchedulerXClient(credentials, endpoint=sim.url, signature_version=version) as client:
        info = await client.get_job_info(region=REGION, namespace=NS, group_id="g1", job_id=12)
        assert (info.job_id, info.enabled, info.max_concurrency) == (12, True, 3)
        assert (info.time_type, info.time_expression, info.data_offset) == (1, "0 30 2 * * ?", 0)
        disabled = await client.get_job_info(region=REGION, namespace=NS, group_id="g1", job_id=21)
        assert disabled.enabled is False
        groups = await client.list_groups(region=REGION, namespace=NS)
        assert {(g.group_id, g.professional) for g in groups} == {
            ("g1", True),
            ("g2", True),
            ("basic.group", False),
        }
        with pytest.raises(ApiCallError) as refused:
            await client.get_job_info(region=REGION, namespace=NS, group_id="g1", job_id=999)
        result = refused.value.result
        assert (result.verdict, result.message) == (Verdict.PERMANENT, "jobId=999 is not existed")
    assert [r["action"] for r in sim.requests()] == ["GetJobInfo"] * 2 + [
        "ListGroups",
        "GetJobInfo",
    ]
