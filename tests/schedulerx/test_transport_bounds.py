"""The transport bounds answers: a 100 MB body or a monstrous header costs a reconciliation
or a retry, never the process's memory (issue 12)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from rerun_orchestrator.schedulerx import (
    ApiCallError,
    InstanceListQuery,
    RerunJobParams,
    SchedulerXClient,
    StaticCredentialsProvider,
    Timeouts,
    Verdict,
)
from rerun_orchestrator.schedulerx._aiohttp import MAX_BODY_BYTES
from rerun_orchestrator.schedulerx._credentials import Credentials

pytestmark = pytest.mark.asyncio
PARAMS = RerunJobParams(
    region="cn-hangzhou",
    namespace="ns",
    group_id="g",
    job_id=1,
    start_date=1645459200000,
    end_date=1645459200000,
    data_time="10:00:00",
)
QUERY = InstanceListQuery(region="cn-hangzhou", namespace="ns", group_id="g", job_id=1)
KEYS = StaticCredentialsProvider(Credentials("testid", "testsecret"))
HUNDRED_MB = 100 * 1024 * 1024
CHUNK = b" " * (1024 * 1024)  # one buffer, written again and again: nothing is allocated
SUCCESS = {"RequestId": "R1", "Code": 200, "Success": True, "Message": ""}


class Streamer:
    """Answers with a body of `size` bytes, streamed in 1 MiB writes; counts what went out."""

    def __init__(self, size: int, *, declare_length: bool, prefix: bytes = b"") -> None:
        self.size = size
        self.declare_length = declare_length
        self.prefix = prefix
        self.written = 0

    async def __call__(self, request: web.Request, received: Any) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        if self.declare_length:
            response.content_length = self.size
        else:
            response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            await response.write(self.prefix)
            self.written = len(self.prefix)
            while self.written < self.size:
                piece = CHUNK[: self.size - self.written]
                await response.write(piece)
                self.written += len(piece)
            await response.write_eof()
        except (ConnectionResetError, ConnectionError):
            pass  # the client hung up: what the bound is for
        return response


def client(server: Any) -> SchedulerXClient:
    return SchedulerXClient(KEYS, endpoint=server.url, timeouts=Timeouts(read=20.0))


@pytest.mark.parametrize("declare_length", [False, True], ids=["chunked", "content-length"])
async def test_a_100_mb_rerun_answer_is_unreadable_hence_ambiguous(
    server: Any, declare_length: bool
) -> None:
    streamer = Streamer(HUNDRED_MB, declare_length=declare_length, prefix=b'{"RequestId": "R1"')
    server.reply = streamer
    async with client(server) as c:
        result = await c.rerun_job(PARAMS)
    assert result.verdict is Verdict.AMBIGUOUS  # may have been applied: reconcile, not resend
    assert result.wrote_request
    assert "not a JSON or XML API result" in result.reason
    # the client stopped reading at the bound (a declared length is refused unread)
    assert streamer.written < MAX_BODY_BYTES + 16 * len(CHUNK)


async def test_a_100_mb_read_answer_is_retried(server: Any) -> None:
    server.reply = Streamer(HUNDRED_MB, declare_length=False, prefix=b"[")
    async with client(server) as c:
        with pytest.raises(ApiCallError) as unreadable:
            await c.get_job_instance_list(QUERY)
    assert unreadable.value.result.verdict is Verdict.RETRY  # a read is safe to repeat


async def test_a_large_answer_under_the_bound_is_read_whole(server: Any) -> None:
    """2 MiB of padding around a real answer: far above any real one, well under the bound."""
    body = json.dumps(SUCCESS).encode() + b" " * (2 * 1024 * 1024)
    streamer = Streamer(len(body), declare_length=False, prefix=body[: len(body) - 1])
    server.reply = streamer
    async with client(server) as c:
        result = await c.rerun_job(PARAMS)
    assert result.verdict is Verdict.SUCCEEDED
    assert streamer.written == len(body)


async def test_a_monstrous_header_fails_the_attempt_as_maybe_sent(server: Any) -> None:
    async def reply(request: web.Request, received: Any) -> web.StreamResponse:
        return web.json_response(SUCCESS, headers={"X-Padding": "x" * 20_000})

    server.reply = reply
    async with client(server) as c:
        result = await c.rerun_job(PARAMS)
    assert result.verdict is Verdict.AMBIGUOUS
    assert result.wrote_request


async def test_too_many_headers_fail_the_attempt_as_maybe_sent(server: Any) -> None:
    async def reply(request: web.Request, received: Any) -> web.StreamResponse:
        return web.json_response(SUCCESS, headers={f"X-H{i}": "v" for i in range(300)})

    server.reply = reply
    async with client(server) as c:
        result = await c.rerun_job(PARAMS)
    assert result.verdict is Verdict.AMBIGUOUS
