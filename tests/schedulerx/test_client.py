"""The client against a loopback server answering each shape of docs/schedulerx-api.md."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from rerun_orchestrator.schedulerx import (
    AiohttpTransport,
    ApiCallError,
    CredentialsError,
    EndpointError,
    HttpRequest,
    HttpResponse,
    InstanceListQuery,
    RerunJobParams,
    SchedulerXClient,
    StaticCredentialsProvider,
    Timeouts,
    Verdict,
)
from rerun_orchestrator.schedulerx import _aiohttp as aiohttp_module
from rerun_orchestrator.schedulerx._credentials import Credentials

PARAMS = RerunJobParams(
    region="cn-hangzhou",
    namespace="adcfc35d-e2fe-4fe9-bbaa-20e90ffc1234",
    group_id="testSchedulerx.defaultGroup",
    job_id=123,
    start_date=1645459200000,
    end_date=1645718400000,
    data_time="10:00:00",
)
KEYS = StaticCredentialsProvider(Credentials("testid", "testsecret"))
STS = StaticCredentialsProvider(Credentials("testid", "testsecret", "sts/token+1=="))
FAST = Timeouts(connect=1.0, read=0.3, total=5.0)

MakeClient = Callable[..., SchedulerXClient]


@pytest_asyncio.fixture
async def make_client(server: Any, clock: Any) -> AsyncIterator[MakeClient]:
    """Build clients against the loopback server; all are closed after the test."""
    clients: list[SchedulerXClient] = []

    def make(**kwargs: Any) -> SchedulerXClient:
        kwargs.setdefault("endpoint", server.url)
        kwargs.setdefault("timeouts", FAST)
        kwargs.setdefault("clock", clock)
        client = SchedulerXClient(kwargs.pop("credentials", KEYS), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize("version", ["v3", "v1"])
@pytest.mark.parametrize("credentials", [KEYS, STS], ids=["keys", "sts"])
async def test_accepted_rerun_is_signed_as_received(
    server: Any, make_client: MakeClient, version: str, credentials: Any
) -> None:
    client = make_client(signature_version=version, credentials=credentials)
    result = await client.rerun_job(PARAMS)
    assert result.verdict is Verdict.SUCCEEDED, result.reason
    assert (result.request_id, result.http_status, result.code) == ("REQ-OK-1", 200, 200)
    [got] = server.received
    assert got.signature_ok
    assert got.method == "POST"
    assert got.action == "RerunJob"
    assert got.form == PARAMS.form()  # parameters travel in the form body in both versions
    assert got.headers["host"] == server.url.removeprefix("http://")
    assert got.headers["accept"] == "application/json"
    assert got.headers["user-agent"].startswith("rerun-orchestrator/")
    if version == "v3":
        assert got.headers["x-acs-date"] == "2024-01-02T03:04:05Z"  # from the injected clock
        assert ("x-acs-security-token" in got.headers) == (credentials is STS)
    else:
        assert got.query["Timestamp"] == "2024-01-02T03:04:05Z"
        assert ("SecurityToken" in got.query) == (credentials is STS)


@pytest.mark.asyncio
async def test_every_attempt_gets_a_fresh_nonce_and_date(
    server: Any, make_client: MakeClient, clock: Any
) -> None:
    client = make_client()
    await client.rerun_job(PARAMS)
    clock.advance(61)
    await client.rerun_job(PARAMS)
    first, second = server.received
    assert first.headers["x-acs-signature-nonce"] != second.headers["x-acs-signature-nonce"]
    assert len(first.headers["x-acs-signature-nonce"]) == 32
    assert (first.headers["x-acs-date"], second.headers["x-acs-date"]) == (
        "2024-01-02T03:04:05Z",
        "2024-01-02T03:05:06Z",
    )


@pytest.mark.asyncio
async def test_one_keep_alive_connection_is_reused(server: Any, make_client: MakeClient) -> None:
    client = make_client()
    for _ in range(5):
        assert (await client.rerun_job(PARAMS)).verdict is Verdict.SUCCEEDED
    assert len({r.peer_port for r in server.received}) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("header", "expected"), [({"x-acs-retry-after": "2000"}, 2000), ({}, None)]
)
async def test_throttling(
    server: Any, make_client: MakeClient, header: dict[str, str], expected: int | None
) -> None:
    async def reply(request: web.Request, received: Any) -> web.StreamResponse:
        return server.error(
            400, "Throttling.User", "Request was denied due to user flow control.", **header
        )

    server.reply = reply
    result = await make_client().rerun_job(PARAMS)
    assert result.verdict is Verdict.RETRY
    assert result.throttled
    assert (result.code, result.http_status, result.request_id) == (
        "Throttling.User",
        400,
        "REQ-ERR-1",
    )
    assert result.retry_after_ms == expected


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "code", "verdict"),
    [
        (503, "ServiceUnavailable", Verdict.RETRY),
        (500, "InternalError", Verdict.AMBIGUOUS),
        (400, "SignatureNonceUsed", Verdict.RESIGN),
        (404, "InvalidAccessKeyId.NotFound", Verdict.PERMANENT),
    ],
)
async def test_gateway_errors(
    server: Any, make_client: MakeClient, status: int, code: str, verdict: Verdict
) -> None:
    async def reply(request: web.Request, received: Any) -> web.StreamResponse:
        return server.error(status, code)

    server.reply = reply
    result = await make_client().rerun_job(PARAMS)
    assert (result.verdict, result.code, result.http_status) == (verdict, code, status)
    assert result.wrote_request


@pytest.mark.asyncio
async def test_html_502_is_ambiguous(server: Any, make_client: MakeClient) -> None:
    async def reply(request: web.Request, received: Any) -> web.StreamResponse:
        return web.Response(
            status=502, text="<html><h1>502 Bad Gateway</h1></html>", content_type="text/html"
        )

    server.reply = reply
    result = await make_client().rerun_job(PARAMS)
    assert result.verdict is Verdict.AMBIGUOUS
    assert result.http_status == 502
    assert result.response is not None
    assert result.response.body_error is not None
    assert "HTML" in result.response.body_error


@pytest.mark.asyncio
async def test_success_false_is_permanent_with_the_integer_code(
    server: Any, make_client: MakeClient
) -> None:
    async def reply(request: web.Request, received: Any) -> web.StreamResponse:
        body = {
            "RequestId": "REQ-BIZ",
            "Code": 415,
            "Success": False,
            "Message": "jobId=123 is not existed",
        }
        return server.json(200, body)

    server.reply = reply
    result = await make_client().rerun_job(PARAMS)
    assert result.verdict is Verdict.PERMANENT
    assert (result.code, result.message, result.request_id) == (
        415,
        "jobId=123 is not existed",
        "REQ-BIZ",
    )


@pytest.mark.asyncio
async def test_unreadable_200_is_ambiguous(server: Any, make_client: MakeClient) -> None:
    async def reply(request: web.Request, received: Any) -> web.StreamResponse:
        return web.Response(
            status=200, body=b'{"RequestId": "X", "Succ', content_type="application/json"
        )

    server.reply = reply
    result = await make_client().rerun_job(PARAMS)
    assert result.verdict is Verdict.AMBIGUOUS
    assert "HTTP 200" in result.reason


@pytest.mark.asyncio
async def test_reset_after_the_request_was_written(server: Any, make_client: MakeClient) -> None:
    async def reply(request: web.Request, received: Any) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.abort()
        raise asyncio.CancelledError  # nothing more to say: the connection is gone

    server.reply = reply
    result = await make_client().rerun_job(PARAMS)
    assert len(server.received) == 1  # the server did read the whole request
    assert result.verdict is Verdict.AMBIGUOUS
    assert result.response is None
    assert result.wrote_request
    assert "no answer after sending" in result.reason


@pytest.mark.asyncio
async def test_truncated_body_is_ambiguous(server: Any, make_client: MakeClient) -> None:
    async def reply(request: web.Request, received: Any) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.content_length = 500
        await response.prepare(request)
        await response.write(b'{"RequestId": "R", ')
        assert request.transport is not None
        request.transport.abort()
        raise asyncio.CancelledError

    server.reply = reply
    result = await make_client().rerun_job(PARAMS)
    assert result.verdict is Verdict.AMBIGUOUS
    assert result.response is None


@pytest.mark.asyncio
async def test_slower_than_the_read_timeout(server: Any, make_client: MakeClient) -> None:
    async def reply(request: web.Request, received: Any) -> web.StreamResponse:
        await asyncio.sleep(3)
        return server.default(request, received)  # pragma: no cover - cancelled first

    server.reply = reply
    result = await make_client(timeouts=Timeouts(connect=0.5, read=0.2, total=0.4)).rerun_job(
        PARAMS
    )
    assert result.verdict is Verdict.AMBIGUOUS
    assert "timeout: no complete answer within 0.4 s" in result.reason  # total caps it
    assert result.wrote_request


@pytest.mark.asyncio
async def test_connection_refused_was_never_sent(make_client: MakeClient, unused_port: int) -> None:
    client = make_client(endpoint=f"http://127.0.0.1:{unused_port}")
    result = await client.rerun_job(PARAMS)
    assert result.verdict is Verdict.RETRY
    assert not result.wrote_request
    assert result.response is None


@pytest.mark.asyncio
async def test_redirects_are_not_followed(server: Any, make_client: MakeClient) -> None:
    async def reply(request: web.Request, received: Any) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": "http://127.0.0.1:1/elsewhere"})

    server.reply = reply
    result = await make_client().rerun_job(PARAMS)
    # Whatever redirected may have forwarded the call first: reconcile, never resend blindly.
    assert result.verdict is Verdict.AMBIGUOUS
    assert "redirect" in result.reason
    assert len(server.received) == 1


@pytest.mark.asyncio
async def test_elapsed_ms_comes_from_the_injected_clock(
    server: Any, make_client: MakeClient
) -> None:
    class SteppingClock:
        def __init__(self) -> None:
            self.t = 0.0

        def now(self) -> float:
            self.t += 0.25
            return self.t

        def wall(self) -> float:
            return 1_704_164_645.0

        async def sleep(self, seconds: float) -> None:  # pragma: no cover - unused
            await asyncio.sleep(0)

    result = await make_client(clock=SteppingClock()).rerun_job(PARAMS)
    assert result.elapsed_ms == pytest.approx(250.0)


@pytest.mark.asyncio
async def test_failpoint_fires_once_the_server_answers(
    server: Any, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch, unused_port: int
) -> None:
    hits: list[str] = []
    monkeypatch.setattr(aiohttp_module, "failpoint", hits.append)
    await make_client().rerun_job(PARAMS)
    assert hits == ["request_written"]
    await make_client(endpoint=f"http://127.0.0.1:{unused_port}").rerun_job(PARAMS)
    assert hits == ["request_written"]  # never for a request that was not sent


@pytest.mark.asyncio
async def test_tls_is_verified_by_default(tls_server: tuple[Any, Path], clock: Any) -> None:
    server, cert = tls_server
    async with SchedulerXClient(KEYS, endpoint=server.url, clock=clock, timeouts=FAST) as client:
        refused = await client.rerun_job(PARAMS)
    assert refused.verdict is Verdict.RETRY
    assert not refused.wrote_request
    assert "certificate" in refused.reason.lower()
    assert server.received == []

    trusting = AiohttpTransport(ssl_context=ssl.create_default_context(cafile=str(cert)))
    async with SchedulerXClient(
        KEYS, endpoint=server.url, transport=trusting, clock=clock
    ) as client:
        accepted = await client.rerun_job(PARAMS)
    await trusting.aclose()
    assert accepted.verdict is Verdict.SUCCEEDED, accepted.reason
    assert server.received[0].signature_ok


# Read APIs -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_get_job_instance_list(server: Any, make_client: MakeClient) -> None:
    query = InstanceListQuery(
        region="cn-hangzhou",
        namespace="ns 1/é",
        group_id="g*~",
        job_id=77,
        start_timestamp=1704067200000,
        page_size=50,
    )
    page = await make_client().get_job_instance_list(query)
    [got] = server.received
    assert got.signature_ok
    assert (got.method, got.action, got.body) == ("GET", "GetJobInstanceList", b"")
    assert got.query == query.query()
    assert [i.instance_id for i in page.instances] == [9000, 9001]
    assert {i.job_id for i in page.instances} == {77}
    assert (page.page_num, page.page_size, page.total) == (1, 50, None)


@pytest.mark.asyncio
@pytest.mark.parametrize("version", ["v3", "v1"])
async def test_get_job_info(server: Any, make_client: MakeClient, version: str) -> None:
    info = await make_client(signature_version=version).get_job_info(
        region="cn-hangzhou", namespace="ns", group_id="g", job_id=5, namespace_source="schedulerx"
    )
    assert server.received[0].signature_ok
    assert server.received[0].query["NamespaceSource"] == "schedulerx"
    assert (info.job_id, info.name, info.enabled, info.max_concurrency) == (
        5,
        "daily-orders",
        True,
        1,
    )
    assert (info.time_type, info.time_expression) == (1, "0 0 2 * * ?")


@pytest.mark.asyncio
async def test_read_errors_raise_with_the_classified_result(
    server: Any, make_client: MakeClient
) -> None:
    answers = iter(
        [
            server.json(
                200,
                {
                    "RequestId": "B1",
                    "Code": 500,
                    "Success": False,
                    "Message": "jobid: 5 not match groupId: g",
                },
            ),
            server.error(500, "InternalError"),
            server.json(
                200,
                {
                    "RequestId": "B3",
                    "Code": 200,
                    "Success": True,
                    "Data": {"JobInstanceDetails": [{"Status": 4}]},
                },
            ),
        ]
    )

    async def reply(request: web.Request, received: Any) -> web.StreamResponse:
        return next(answers)

    server.reply = reply
    client = make_client()
    query = InstanceListQuery(region="cn-hangzhou", namespace="ns", group_id="g", job_id=5)
    with pytest.raises(ApiCallError) as business:
        await client.get_job_instance_list(query)
    assert business.value.result.verdict is Verdict.PERMANENT
    assert business.value.result.code == 500
    assert "request_id=B1" in str(business.value)
    with pytest.raises(ApiCallError) as server_error:
        await client.get_job_instance_list(query)
    assert server_error.value.result.verdict is Verdict.RETRY  # a read is safe to repeat
    with pytest.raises(ApiCallError) as malformed:
        await client.get_job_instance_list(query)
    assert malformed.value.result.verdict is Verdict.RETRY
    assert "malformed" in str(malformed.value)


# Without a server ------------------------------------------------------------------------


class RecordingTransport:
    def __init__(self) -> None:
        self.sent: list[HttpRequest] = []
        self.closed = False

    async def send(self, request: HttpRequest) -> HttpResponse:
        self.sent.append(request)
        return HttpResponse(
            200,
            {"content-type": "application/json"},
            b'{"RequestId":"r","Code":200,"Success":true}',
        )

    async def aclose(self) -> None:
        self.closed = True


@pytest.mark.asyncio
async def test_each_region_goes_to_its_own_host(clock: Any) -> None:
    transport = RecordingTransport()
    async with SchedulerXClient(KEYS, transport=transport, clock=clock) as client:
        await client.rerun_job(PARAMS)
        await client.rerun_job(RerunJobParams(**{**_fields(PARAMS), "region": "ap-southeast-1"}))
        with pytest.raises(EndpointError):
            await client.rerun_job(RerunJobParams(**{**_fields(PARAMS), "region": "mars-north-1"}))
    assert [r.url for r in transport.sent] == [
        "https://schedulerx.cn-hangzhou.aliyuncs.com/",
        "https://schedulerx.aliyuncs.com/",
    ]
    assert [r.headers["host"] for r in transport.sent] == [
        "schedulerx.cn-hangzhou.aliyuncs.com",
        "schedulerx.aliyuncs.com",
    ]
    assert not transport.closed  # a transport passed in stays the caller's


@pytest.mark.asyncio
async def test_an_override_serves_every_region(clock: Any) -> None:
    transport = RecordingTransport()
    client = SchedulerXClient(
        KEYS, endpoint="https://proxy.example:8443", transport=transport, clock=clock
    )
    await client.rerun_job(RerunJobParams(**{**_fields(PARAMS), "region": "mars-north-1"}))
    assert transport.sent[0].url == "https://proxy.example:8443/"
    assert transport.sent[0].headers["host"] == "proxy.example:8443"


def test_plaintext_override_to_a_remote_host_is_refused() -> None:
    with pytest.raises(EndpointError, match="plaintext"):
        SchedulerXClient(
            KEYS, endpoint="http://schedulerx.aliyuncs.com", transport=RecordingTransport()
        )


@pytest.mark.asyncio
async def test_credentials_errors_propagate_and_nothing_is_sent(clock: Any) -> None:
    class NoKeys:
        async def get_credentials(self) -> Credentials:
            raise CredentialsError("environment: ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set")

    transport = RecordingTransport()
    client = SchedulerXClient(NoKeys(), transport=transport, clock=clock)
    with pytest.raises(CredentialsError):
        await client.rerun_job(PARAMS)
    assert transport.sent == []


@pytest.mark.asyncio
async def test_owned_transport_is_closed(clock: Any, server: Any) -> None:
    client = SchedulerXClient(KEYS, endpoint=server.url, clock=clock)
    assert (await client.rerun_job(PARAMS)).verdict is Verdict.SUCCEEDED
    await client.aclose()
    after = await client.rerun_job(PARAMS)
    assert after.verdict is Verdict.RETRY
    assert not after.wrote_request
    assert "closed" in after.reason


def _fields(params: RerunJobParams) -> dict[str, Any]:
    return {name: getattr(params, name) for name in params.__slots__}
