"""A canary secret and a canary security token never surface: not in logs, errors or reprs.

The client is driven through every answer shape with STS credentials in both signature
versions, including a server that echoes the string to sign (as the gateway's V1
``SignatureDoesNotMatch`` does, token and all). Everything a user or a log could see is
collected and searched for the canaries in raw and percent-encoded forms.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import Any

import pytest
from aiohttp import web
from alibabacloud_credentials.provider import StaticSTSCredentialsProvider
from structlog.testing import capture_logs

from rerun_orchestrator.schedulerx import (
    AiohttpTransport,
    AliyunCredentialsProvider,
    ApiCallError,
    ChainCredentialsProvider,
    CliConfigCredentialsProvider,
    Credentials,
    CredentialsError,
    EnvironmentCredentialsProvider,
    IniFileCredentialsProvider,
    InstanceListQuery,
    RefreshingCredentialsProvider,
    RerunJobParams,
    SchedulerXClient,
    StaticCredentialsProvider,
    Timeouts,
    build_request,
    default_credentials_provider,
)
from rerun_orchestrator.schedulerx._endpoints import Endpoint
from rerun_orchestrator.schedulerx._signing import percent_encode, v1_string_to_sign

SECRET = "CANARY-SECRET-8d1f"
TOKEN = "CANARY/TOKEN+77c2="
CANARIES = {
    SECRET,
    TOKEN,
    percent_encode(TOKEN),
    percent_encode(percent_encode(TOKEN)),
    "CANARY%2FTOKEN",
    "CANARY/TOKEN",
}
PARAMS = RerunJobParams(
    region="cn-hangzhou",
    namespace="ns",
    group_id="g",
    job_id=1,
    start_date=1704038400000,
    end_date=1704038400000,
    data_time="10:00:00",
)
QUERY = InstanceListQuery(region="cn-hangzhou", namespace="ns", group_id="g", job_id=1)


def assert_clean(haystack: list[str]) -> None:
    text = "\n".join(haystack)
    assert text  # something was collected
    for canary in CANARIES:
        assert canary not in text, f"{canary!r} leaked"


async def echo_string_to_sign(request: web.Request, received: Any) -> web.StreamResponse:
    message = "Specified signature is not matched with our calculation."
    if "SecurityToken" in received.query:
        message += " server string to sign is:" + v1_string_to_sign(
            received.method, {**received.query, **received.form}
        )
    else:
        message += " token was " + received.headers.get("x-acs-security-token", "")
    body = {
        "RequestId": "R-SIG",
        "Code": "SignatureDoesNotMatch",
        "Message": message,
        "Echo": message,
    }
    return web.json_response(body, status=400)


def shapes(server: Any) -> list[Any]:
    async def ok(request: web.Request, received: Any) -> web.StreamResponse:
        body = {"RequestId": "R", "Code": 200, "Success": True, "Data": {"JobInstanceDetails": []}}
        return server.json(200, body)

    async def throttled(request: web.Request, received: Any) -> web.StreamResponse:
        return server.error(400, "Throttling.User", "flow control", **{"x-acs-retry-after": "1000"})

    async def unavailable(request: web.Request, received: Any) -> web.StreamResponse:
        return server.error(503, "ServiceUnavailable")

    async def internal(request: web.Request, received: Any) -> web.StreamResponse:
        return server.error(500, "InternalError")

    async def html_502(request: web.Request, received: Any) -> web.StreamResponse:
        return web.Response(status=502, text="<html>502</html>", content_type="text/html")

    async def business(request: web.Request, received: Any) -> web.StreamResponse:
        return server.json(
            200, {"RequestId": "R", "Code": 415, "Success": False, "Message": "no job"}
        )

    async def reset(request: web.Request, received: Any) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.abort()
        raise asyncio.CancelledError

    async def slow(request: web.Request, received: Any) -> web.StreamResponse:
        await asyncio.sleep(2)
        return await ok(request, received)  # pragma: no cover - cancelled first

    return [
        ok,
        throttled,
        unavailable,
        internal,
        html_502,
        business,
        reset,
        slow,
        echo_string_to_sign,
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("version", ["v3", "v1"])
async def test_no_canary_in_results_errors_reprs_or_logs(
    server: Any, clock: Any, version: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    credentials = Credentials("canaryid", SECRET, TOKEN)
    provider = RefreshingCredentialsProvider(StaticCredentialsProvider(credentials), clock=clock)
    haystack: list[str] = []
    with capture_logs() as logs:
        async with SchedulerXClient(
            provider,
            endpoint=server.url,
            signature_version=version,  # type: ignore[arg-type]
            timeouts=Timeouts(connect=0.5, read=0.1, total=0.3),
            clock=clock,
        ) as client:
            haystack += [repr(client), str(client)]
            for reply in shapes(server):
                server.reply = reply
                result = await client.rerun_job(PARAMS)
                haystack += [repr(result), str(result), result.reason, str(result.message)]
                if result.response is not None:
                    haystack += [
                        repr(result.response),
                        result.response.raw_body.decode("utf-8", "replace"),
                    ]
                try:
                    await client.get_job_instance_list(QUERY)
                except ApiCallError as exc:
                    haystack += [str(exc), repr(exc), *traceback.format_exception(exc)]
                    haystack.append(repr(exc.result))
                    if exc.result.response is not None:
                        haystack.append(exc.result.response.raw_body.decode("utf-8", "replace"))
    haystack += [repr(event) for event in logs]
    haystack.append(caplog.text)
    echoed = [
        r
        for r in server.received
        if "SecurityToken" in r.query or "x-acs-security-token" in r.headers
    ]
    assert echoed  # the token really went out, so a leak would have had a chance
    assert_clean(haystack)


def test_request_and_credentials_reprs() -> None:
    credentials = Credentials("canaryid", SECRET, TOKEN, 1.0)
    haystack = [repr(credentials), str(credentials)]
    for version in ("v3", "v1"):
        request = build_request(
            action="RerunJob",
            method="POST",
            params=PARAMS.form(),
            in_body=True,
            endpoint=Endpoint.from_url("https://schedulerx.cn-hangzhou.aliyuncs.com"),
            credentials=credentials,
            timestamp="2024-01-02T03:04:05Z",
            nonce="n",
            user_agent="ua",
            signature_version=version,  # type: ignore[arg-type]
        )
        haystack += [repr(request), str(request)]
    assert_clean(haystack)


@pytest.mark.asyncio
async def test_providers_and_their_errors(tmp_path: Any) -> None:
    environ = {
        "HOME": str(tmp_path),
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
        "ALIBABA_CLOUD_SECURITY_TOKEN": TOKEN,
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
    }
    (tmp_path / ".aliyun").mkdir()
    (tmp_path / ".aliyun" / "config.json").write_text(
        '{"current": "p", "profiles": [{"name": "p", "mode": "StsToken", '
        f'"access_key_id": "", "access_key_secret": "{SECRET}", "sts_token": "{TOKEN}"}}]}}'
    )
    (tmp_path / "creds.ini").write_text(f"[default]\naccess_key_secret = {SECRET}\n")
    sdk = StaticSTSCredentialsProvider(
        access_key_id="id", access_key_secret=SECRET, security_token=TOKEN
    )
    providers: list[Any] = [
        StaticCredentialsProvider(Credentials("id", SECRET, TOKEN)),
        EnvironmentCredentialsProvider(environ),
        CliConfigCredentialsProvider(environ=environ),
        IniFileCredentialsProvider(tmp_path / "creds.ini", environ=environ),
        AliyunCredentialsProvider(sdk),
        default_credentials_provider(environ=environ),
        ChainCredentialsProvider(EnvironmentCredentialsProvider(environ)),
        RefreshingCredentialsProvider(AliyunCredentialsProvider(sdk)),
        AiohttpTransport(proxy=f"http://user:{SECRET}@proxy.example:3128"),
    ]
    haystack: list[str] = []
    with capture_logs() as logs:
        for provider in providers:
            haystack += [repr(provider), str(provider)]
            if not hasattr(provider, "get_credentials"):
                continue
            try:
                credentials = await provider.get_credentials()
            except CredentialsError as exc:
                haystack += [str(exc), repr(exc), *traceback.format_exception(exc)]
            else:
                haystack += [repr(credentials), str(credentials)]
            haystack.append(repr(provider))
    haystack += [repr(event) for event in logs]
    assert_clean(haystack)
