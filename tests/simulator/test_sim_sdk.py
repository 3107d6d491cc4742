"""The official SDK (a client we did not write) against the simulator.

Each test asserts what the SDK surfaces (its response model or its exception's
status, code, message and data), i.e. what it would see from the real service.
The SDK is blocking, so it runs in a worker thread while the simulator serves on the
test's event loop.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from alibabacloud_schedulerx220190430 import models
from alibabacloud_schedulerx220190430.client import Client
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi.exceptions import (
    ClientException,
    ServerException,
    ThrottlingException,
)
from darabonba.runtime import RuntimeOptions

from rerun_orchestrator.simulator import CredentialSpec, FaultRule, Simulator

pytestmark = pytest.mark.asyncio
StartSim = Callable[..., Awaitable[Simulator]]
REQUEST_ID = re.compile(r"^[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}$")
# Awkward on purpose: every character class the two encodings treat differently.
STS = CredentialSpec(
    "STS.NUgYrLnoC37mZ",
    "Fq+/=&%ke y~*!'()\u00e9",
    security_token="CAIS+/==&token with space*~'()",
)


def sdk(
    sim: Simulator,
    key: str = "testid",
    secret: str = "testsecret",
    token: str | None = None,
    v2: bool = False,
) -> Client:
    config = open_api_models.Config(
        access_key_id=key,
        access_key_secret=secret,
        security_token=token,
        endpoint=sim.endpoint,
        protocol="http",
        region_id="cn-hangzhou",
    )
    if v2:
        config.signature_algorithm = "v2"
    return Client(config)


def rerun_request(job_id: int = 10, days: int = 4) -> models.RerunJobRequest:
    return models.RerunJobRequest(
        region_id="cn-hangzhou",
        namespace="ns-1",
        group_id="g1",
        job_id=job_id,
        start_date=1_645_459_200_000,  # 2022-02-22 00:00 +08:00
        end_date=1_645_459_200_000 + (days - 1) * 86_400_000,
        data_time="10:00:00",
    )


async def rerun(
    client: Client, request: models.RerunJobRequest | None = None, **runtime: Any
) -> Any:
    return await asyncio.to_thread(
        client.rerun_job_with_options, request or rerun_request(), RuntimeOptions(**runtime)
    )


async def listing(client: Client, **kw: Any) -> Any:
    request = models.GetJobInstanceListRequest(
        region_id="cn-hangzhou", namespace="ns-1", group_id="g1", **kw
    )
    return await asyncio.to_thread(
        client.get_job_instance_list_with_options, request, RuntimeOptions()
    )


async def failure(call: Awaitable[Any]) -> Any:
    with pytest.raises((ClientException, ServerException, ThrottlingException)) as info:
        await call
    return info.value


@pytest.mark.parametrize("v2", [False, True], ids=["v3", "v1"])
async def test_rerun_succeeds_and_commits(start_sim: StartSim, v2: bool) -> None:
    sim = await start_sim()
    response = await rerun(sdk(sim, v2=v2))
    assert response.status_code == 200
    body = response.body
    assert (body.code, body.success, body.message) == (200, True, "")
    assert REQUEST_ID.match(body.request_id)
    assert response.headers["x-acs-request-id"] == body.request_id
    [call] = sim.calls()
    assert call["request_id"] == body.request_id
    assert [i["data_time"] for i in sim.instances(10)] == [
        f"2022-02-{d} 10:00:00" for d in (22, 23, 24, 25)
    ]


@pytest.mark.parametrize("v2", [False, True], ids=["v3", "v1"])
async def test_sts_with_special_characters(start_sim: StartSim, make_config: Any, v2: bool) -> None:
    sim = await start_sim(make_config(credentials=(STS,)))
    client = sdk(sim, STS.access_key_id, STS.access_key_secret, STS.security_token, v2=v2)
    assert (await rerun(client)).body.success is True
    assert sim.calls()[0]["access_key_id"] == STS.access_key_id
    wrong = sdk(sim, STS.access_key_id, STS.access_key_secret, "CAIS+other", v2=v2)
    error = await failure(rerun(wrong))
    assert isinstance(error, ClientException)
    assert (error.status_code, error.code) == (400, "InvalidSecurityToken.MismatchWithAccessKey")
    assert len(sim.calls()) == 1


@pytest.mark.parametrize("v2", [False, True], ids=["v3", "v1"])
async def test_wrong_secret(start_sim: StartSim, v2: bool) -> None:
    sim = await start_sim()
    error = await failure(rerun(sdk(sim, secret="not-the-secret", v2=v2)))
    assert isinstance(error, ClientException)
    assert error.status_code == 400
    assert error.code == "SignatureDoesNotMatch"
    assert "server string to sign is:" in error.message
    assert error.request_id == error.data["RequestId"]
    assert error.data["HostId"] == sim.endpoint
    assert error.data["Recommend"].startswith(
        "https://api.aliyun.com/troubleshoot?q=SignatureDoesNotMatch"
    )
    assert sim.calls() == []


async def test_unknown_access_key(start_sim: StartSim) -> None:
    sim = await start_sim()
    error = await failure(rerun(sdk(sim, key="LTAInobody")))
    assert (error.status_code, error.code) == (404, "InvalidAccessKeyId.NotFound")


async def test_throttling_without_and_with_retry_after(
    start_sim: StartSim, make_config: Any
) -> None:
    quota = {"RerunJob": {"rate": "1/min", "burst": 1}}
    plain = await start_sim(make_config(quota=quota))
    client = sdk(plain)
    assert (await rerun(client)).body.success is True
    error = await failure(rerun(client))
    assert type(error) is ClientException
    assert (error.status_code, error.code) == (400, "Throttling.User")
    assert len(plain.calls()) == 1  # the throttled call was not accepted

    hinted = await start_sim(make_config(quota=quota, retry_after_header=True))
    client = sdk(hinted)
    await rerun(client)
    error = await failure(rerun(client))
    assert type(error) is ThrottlingException
    assert error.code == "Throttling.User"
    assert 59_000 <= error.retry_after <= 60_000  # ms until the next token (1/min)


async def test_unknown_job_is_a_business_failure(start_sim: StartSim) -> None:
    sim = await start_sim()
    response = await rerun(sdk(sim), rerun_request(job_id=999))
    assert response.status_code == 200  # the SDK raises nothing: the caller must check Success
    body = response.body
    assert body.success is False
    assert isinstance(body.code, int)
    assert body.code != 200
    assert body.message == "jobId=999 is not existed"
    assert sim.calls() == []


async def test_instance_list_paging(start_sim: StartSim) -> None:
    sim = await start_sim()
    client = sdk(sim)
    await rerun(client, rerun_request(days=7))
    pages = [await listing(client, job_id=10, page_num=n, page_size=3) for n in (1, 2, 3, 4)]
    rows = [list(page.body.data.job_instance_details) for page in pages]
    assert [len(r) for r in rows] == [3, 3, 1, 0]
    seen = [d.instance_id for page in rows for d in page]
    assert len(set(seen)) == 7
    assert seen == sorted(seen, reverse=True)  # newest first
    first = rows[0][0]
    assert (first.job_id, first.trigger_type, first.status) == (10, 2, 1)
    assert first.data_time == "2022-02-28 10:00:00"
    assert re.match(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", first.schedule_time)
    # Default page size is 10; Status filters.
    assert len((await listing(client, job_id=10)).body.data.job_instance_details) == 7
    assert (await listing(client, job_id=10, status=4)).body.data.job_instance_details == []
    legacy = await asyncio.to_thread(
        sdk(sim, v2=True).get_job_instance_list_with_options,
        models.GetJobInstanceListRequest(
            region_id="cn-hangzhou", namespace="ns-1", group_id="g1", job_id=10, page_size=5
        ),
        RuntimeOptions(),
    )
    assert len(legacy.body.data.job_instance_details) == 5


async def test_instance_list_for_a_job_of_another_group(start_sim: StartSim) -> None:
    sim = await start_sim()
    response = await listing(sdk(sim), job_id=30)
    assert response.body.success is False
    assert response.body.message == "jobid: 30 not match groupId: g1"


async def test_get_job_info(start_sim: StartSim) -> None:
    sim = await start_sim()
    request = models.GetJobInfoRequest(
        region_id="cn-hangzhou", namespace="ns-1", group_id="g1", job_id=12
    )
    response = await asyncio.to_thread(
        sdk(sim).get_job_info_with_options, request, RuntimeOptions()
    )
    info = response.body.data.job_config_info
    assert (info.job_id, info.status, info.max_concurrency) == (12, 1, "1")
    assert info.time_config.time_type == 1


async def test_internal_error_after_commit_as_the_sdk_sees_it(start_sim: StartSim) -> None:
    sim = await start_sim()
    sim.set_faults([FaultRule("internal_error_after_commit", budget=1)])
    error = await failure(rerun(sdk(sim)))
    assert isinstance(error, ServerException)
    assert (error.status_code, error.code) == (500, "InternalError")
    # The SDK reports a failure, yet the rerun happened: retrying blindly would double it.
    [call] = sim.calls()
    assert call["request_id"] == error.request_id
    assert len(sim.instances(10)) == 4


async def test_unavailable_and_reset_as_the_sdk_sees_them(start_sim: StartSim) -> None:
    sim = await start_sim()
    sim.set_faults([FaultRule("unavailable", budget=1), FaultRule("reset_after_commit", budget=1)])
    error = await failure(rerun(sdk(sim)))
    assert (error.status_code, error.code) == (503, "ServiceUnavailable")
    with pytest.raises(Exception, match=r"(?i)connection|reset|aborted"):
        await rerun(sdk(sim))
    assert len(sim.calls()) == 1  # only the reset one committed
