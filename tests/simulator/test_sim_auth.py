"""The gateway's checks over HTTP, with requests signed by our signer and broken on purpose."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from rerun_orchestrator.schedulerx import _signing
from rerun_orchestrator.simulator import CredentialSpec, Simulator

pytestmark = pytest.mark.asyncio
REQUEST_ID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
StartSim = Callable[..., Awaitable[Simulator]]


def assert_gateway_error(reply: Any, status: int, code: str) -> dict[str, Any]:
    """The real error body: RequestId, HostId, Code, Message, Recommend; id also in the header."""
    assert reply.status == status, reply.body
    body = reply.json()
    assert list(body) == ["RequestId", "HostId", "Code", "Message", "Recommend"]
    assert body["Code"] == code
    assert REQUEST_ID.match(body["RequestId"])
    assert reply.headers["x-acs-request-id"] == body["RequestId"]
    assert body["HostId"].startswith("127.0.0.1:")
    assert f"q={code}" in body["Recommend"]
    assert body["RequestId"] in body["Recommend"]
    return body


async def test_v3_form_body_commits_and_answers_like_the_service(
    start_sim: StartSim, raw: Any, params: Any
) -> None:
    sim = await start_sim()
    reply = await raw(sim).v3("RerunJob", params.rerun())
    assert reply.status == 200
    body = reply.json()
    assert body == {"RequestId": body["RequestId"], "Code": 200, "Success": True, "Message": ""}
    assert reply.headers["x-acs-request-id"] == body["RequestId"]
    assert reply.headers["Content-Type"].startswith("application/json")
    [call] = sim.calls()
    assert call == {
        "request_id": body["RequestId"],
        "access_key_id": "testid",
        "region": "cn-hangzhou",
        "namespace": "ns-1",
        "group_id": "g1",
        "job_id": 10,
        "start_date": 1_645_459_200_000,
        "end_date": 1_645_718_400_000,
        "data_time": "10:00:00",
    }


async def test_parameters_in_the_query_are_accepted_too(
    start_sim: StartSim, raw: Any, params: Any
) -> None:
    sim = await start_sim()
    v3 = await raw(sim).v3("RerunJob", params.rerun(), in_query=True)
    v1 = await raw(sim).v1("RerunJob", params.rerun(), params_in_body=False)
    assert (v3.status, v1.status) == (200, 200)
    assert len(sim.calls()) == 2


async def test_every_response_has_a_fresh_request_id(
    start_sim: StartSim, raw: Any, params: Any
) -> None:
    sim = await start_sim()
    client = raw(sim)
    ids = set()
    for _ in range(3):
        ids.add((await client.v3("RerunJob", params.rerun())).headers["x-acs-request-id"])
        ids.add((await client.v3("Nope", {})).headers["x-acs-request-id"])
    assert len(ids) == 6


async def test_wrong_secret_v3(start_sim: StartSim, raw: Any, params: Any) -> None:
    sim = await start_sim()
    reply = await raw(sim).v3("RerunJob", params.rerun(), secret="wrong")
    body = assert_gateway_error(reply, 400, "SignatureDoesNotMatch")
    assert "server string to sign is:ACS3-HMAC-SHA256\n" in body["Message"]
    assert sim.calls() == []


async def test_wrong_secret_v1_echoes_the_servers_string_to_sign(
    start_sim: StartSim, raw: Any, params: Any
) -> None:
    sim = await start_sim()
    reply = await raw(sim).v1("RerunJob", params.rerun(), secret="wrong")
    body = assert_gateway_error(reply, 400, "SignatureDoesNotMatch")
    echoed = body["Message"].split("server string to sign is:", 1)[1]
    assert echoed.startswith(
        "POST&%2F&AccessKeyId%3Dtestid%26Action%3DRerunJob%26DataTime%3D10%253A00%253A00"
    )
    # It is exactly what docs/schedulerx-api.md §3's algorithm gives for the parameters sent.
    assert "%26Signature%3D" not in echoed


async def test_v1_sts_token_is_masked_in_the_echo(
    start_sim: StartSim, raw: Any, params: Any
) -> None:
    sim = await start_sim()
    reply = await raw(sim, key_id="stsid", secret="stssecret", token="ststoken").v1(
        "RerunJob", params.rerun(), secret="wrong"
    )
    body = assert_gateway_error(reply, 400, "SignatureDoesNotMatch")
    assert "ststoken" not in body["Message"]


async def test_unknown_key(start_sim: StartSim, raw: Any, params: Any) -> None:
    sim = await start_sim()
    assert_gateway_error(
        await raw(sim, key_id="nobody").v3("RerunJob", params.rerun()),
        404,
        "InvalidAccessKeyId.NotFound",
    )
    assert_gateway_error(
        await raw(sim, key_id="nobody").v1("RerunJob", params.rerun()),
        404,
        "InvalidAccessKeyId.NotFound",
    )


@pytest.mark.parametrize("skew", [-901.0, 901.0])
async def test_timestamp_outside_fifteen_minutes(
    start_sim: StartSim, raw: Any, params: Any, skew: float
) -> None:
    sim = await start_sim()
    assert_gateway_error(
        await raw(sim).v3("RerunJob", params.rerun(), skew=skew), 400, "InvalidTimeStamp.Expired"
    )
    assert_gateway_error(
        await raw(sim).v1("RerunJob", params.rerun(), skew=skew), 400, "InvalidTimeStamp.Expired"
    )


async def test_timestamp_inside_the_window_passes(
    start_sim: StartSim, raw: Any, params: Any
) -> None:
    sim = await start_sim()
    assert (await raw(sim).v3("RerunJob", params.rerun(), skew=-840.0)).status == 200
    assert (await raw(sim).v1("RerunJob", params.rerun(), skew=840.0)).status == 200


async def test_malformed_timestamp(start_sim: StartSim, raw: Any, params: Any) -> None:
    sim = await start_sim()
    reply = await raw(sim).v3(
        "RerunJob", params.rerun(), extra_headers={"x-acs-date": "2024-01-02 03:04:05"}
    )
    assert_gateway_error(reply, 400, "InvalidTimeStamp.Format")


async def test_nonce_replay_is_refused(start_sim: StartSim, raw: Any, params: Any) -> None:
    sim = await start_sim()
    client = raw(sim)
    nonce = uuid.uuid4().hex
    assert (await client.v3("RerunJob", params.rerun(), nonce=nonce)).status == 200
    assert_gateway_error(
        await client.v3("RerunJob", params.rerun(), nonce=nonce), 400, "SignatureNonceUsed"
    )
    assert (await client.v1("RerunJob", params.rerun(), nonce="n-1")).status == 200
    assert_gateway_error(
        await client.v1("RerunJob", params.rerun(), nonce="n-1"), 400, "SignatureNonceUsed"
    )
    assert len(sim.calls()) == 2


async def test_a_forged_request_does_not_burn_the_nonce(
    start_sim: StartSim, raw: Any, params: Any
) -> None:
    sim = await start_sim()
    client = raw(sim)
    assert (await client.v3("RerunJob", params.rerun(), nonce="n", secret="forged")).status == 400
    assert (await client.v3("RerunJob", params.rerun(), nonce="n")).status == 200


async def test_nonces_are_forgotten_after_the_window(
    start_sim: StartSim, raw: Any, params: Any, clock: Any
) -> None:
    sim = await start_sim(clock=clock)
    client = raw(sim, wall=clock.wall)
    assert (await client.v3("RerunJob", params.rerun(), nonce="n")).status == 200
    clock.advance(1000)
    # The first request could not be replayed now (its date is stale), so the nonce is free.
    assert (await client.v3("RerunJob", params.rerun(), nonce="n")).status == 200


async def test_every_acs_header_must_be_signed(start_sim: StartSim, raw: Any, params: Any) -> None:
    sim = await start_sim()
    reply = await raw(sim).v3("RerunJob", params.rerun(), unsigned_headers={"x-acs-extra": "1"})
    body = assert_gateway_error(reply, 400, "IncompleteSignature")
    assert "x-acs-extra" in body["Message"]
    reply = await raw(sim).v3(
        "RerunJob",
        params.rerun(),
        unsigned_headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    # A changed signed header is a different canonical request.
    assert_gateway_error(reply, 400, "SignatureDoesNotMatch")


async def test_extra_signed_headers_are_fine(start_sim: StartSim, raw: Any, params: Any) -> None:
    sim = await start_sim()
    reply = await raw(sim).v3(
        "RerunJob",
        params.rerun(),
        extra_headers={"user-agent": "AlibabaCloud (x) Python/3", "accept": "application/json"},
    )
    assert reply.status == 200


async def test_body_must_match_its_hash(start_sim: StartSim, raw: Any, params: Any) -> None:
    sim = await start_sim()
    tampered = _signing.canonical_query(params.rerun(job_id=11)).encode()
    reply = await raw(sim).v3("RerunJob", params.rerun(), body_override=tampered)
    assert_gateway_error(reply, 400, "SignatureDoesNotMatch")
    assert sim.calls() == []


async def test_sts_token_must_match(start_sim: StartSim, raw: Any, params: Any) -> None:
    sim = await start_sim()
    ok = await raw(sim, key_id="stsid", secret="stssecret", token="ststoken").v3(
        "RerunJob", params.rerun()
    )
    assert ok.status == 200
    wrong = await raw(sim, key_id="stsid", secret="stssecret", token="other").v3(
        "RerunJob", params.rerun()
    )
    assert_gateway_error(wrong, 400, "InvalidSecurityToken.MismatchWithAccessKey")
    missing = await raw(sim, key_id="stsid", secret="stssecret").v1("RerunJob", params.rerun())
    assert_gateway_error(missing, 400, "MissingSecurityToken")
    stray = await raw(sim, token="ststoken").v3("RerunJob", params.rerun())
    assert_gateway_error(stray, 400, "InvalidSecurityToken.MismatchWithAccessKey")
    assert len(sim.calls()) == 1


async def test_missing_parameters(start_sim: StartSim, raw: Any, params: Any) -> None:
    sim = await start_sim()
    for name in ("RegionId", "JobId", "StartDate", "DataTime"):
        sent = {k: v for k, v in params.rerun().items() if k != name}
        body = assert_gateway_error(await raw(sim).v3("RerunJob", sent), 400, f"Missing{name}")
        assert body["Message"] == f"{name} is mandatory for this action."
    body = assert_gateway_error(
        await raw(sim).v3("RerunJob", params.rerun(JobId="12x")), 400, "InvalidParameter"
    )
    assert sim.calls() == []


async def test_unknown_action_version_and_method(
    start_sim: StartSim, raw: Any, params: Any, http: Any
) -> None:
    sim = await start_sim()
    assert_gateway_error(await raw(sim).v3("DeleteEverything", {}), 404, "InvalidAction.NotFound")
    assert_gateway_error(
        await raw(sim).v3(
            "RerunJob", params.rerun(), extra_headers={"x-acs-version": "2020-01-01"}
        ),
        400,
        "InvalidVersion",
    )
    async with http.put(f"{sim.url}/?Format=JSON") as resp:
        assert resp.status == 400
        assert (await resp.json())["Code"] == "UnsupportedHTTPMethod"
    async with http.get(f"{sim.url}/some/path") as resp:
        assert resp.status == 404
        assert (await resp.json())["Code"] == "InvalidAction.NotFound"


async def test_unsigned_request(start_sim: StartSim, http: Any) -> None:
    sim = await start_sim()
    async with http.get(f"{sim.url}/?Action=GetJobInfo&Version=2019-04-30&Format=JSON") as resp:
        assert resp.status == 400
        assert (await resp.json())["Code"] == "MissingAccessKeyId"


async def test_v1_without_format_answers_xml(start_sim: StartSim, raw: Any, params: Any) -> None:
    sim = await start_sim()
    reply = await raw(sim).v1("RerunJob", params.rerun(), fmt=None)
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/xml;charset=utf-8"
    text = reply.body.decode()
    assert "<RerunJobResponse><RequestId>" in text
    assert "<Success>true</Success>" in text
    error = await raw(sim).v1("RerunJob", params.rerun(), fmt="XML", secret="bad")
    assert error.status == 400
    assert "<Error><RequestId>" in error.body.decode()
    assert "<Code>SignatureDoesNotMatch</Code>" in error.body.decode()


async def test_quota_owner_is_the_account(
    start_sim: StartSim, make_config: Any, raw: Any, params: Any
) -> None:
    config = make_config(
        credentials=(
            CredentialSpec("k1", "s1", account="acme"),
            CredentialSpec("k2", "s2", account="acme"),
            CredentialSpec("k3", "s3"),
        ),
        quota={"RerunJob": {"rate": "1/min", "burst": 1}},
    )
    sim = await start_sim(config)
    assert (await raw(sim, key_id="k1", secret="s1").v3("RerunJob", params.rerun())).status == 200
    # Another AccessKey of the same account shares the quota; another account does not.
    assert_gateway_error(
        await raw(sim, key_id="k2", secret="s2").v3("RerunJob", params.rerun()),
        400,
        "Throttling.User",
    )
    assert (await raw(sim, key_id="k3", secret="s3").v3("RerunJob", params.rerun())).status == 200
