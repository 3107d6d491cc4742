"""Fixtures for the client tests: a fake clock and a loopback server that answers any shape.

The server verifies every request's signature exactly as received on the wire (V3 and V1),
so a test that sees SUCCEEDED also proves that what aiohttp sent is what we signed.
"""

from __future__ import annotations

import asyncio
import datetime
import hmac
import ipaddress
import json
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import pytest_asyncio
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rerun_orchestrator.schedulerx._signing import (
    sha256_hex,
    v1_signature,
    v1_string_to_sign,
    v3_canonical_request,
    v3_signature,
)

SECRETS = {"testid": "testsecret"}


class FakeClock:
    """Monotonic time that only moves when told to; wall time pinned to 2024-01-02T03:04:05Z."""

    def __init__(self, wall: float = 1_704_164_645.0) -> None:
        self.monotonic = 100.0
        self._wall0 = wall

    def now(self) -> float:
        return self.monotonic

    def wall(self) -> float:
        return self._wall0 + self.monotonic - 100.0

    async def sleep(self, seconds: float) -> None:
        self.monotonic += max(0.0, seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.monotonic += seconds


@dataclass
class Received:
    method: str
    action: str | None
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    form: dict[str, str]
    peer_port: int | None
    signature_ok: bool
    string_to_sign: str = ""


Reply = Callable[[web.Request, Received], Awaitable[web.StreamResponse]]


def api_json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        headers=headers,
    )


def gateway_error(status: int, code: str, message: str = "error", **headers: str) -> web.Response:
    return api_json(
        status,
        {
            "RequestId": "REQ-ERR-1",
            "HostId": "schedulerx.cn-hangzhou.aliyuncs.com",
            "Code": code,
            "Message": message,
            "Recommend": "https://api.aliyun.com/troubleshoot?q=" + code,
        },
        headers,
    )


def _verify(
    method: str, query: dict[str, str], headers: dict[str, str], body: bytes, form: dict[str, str]
) -> tuple[bool, str]:
    auth = headers.get("authorization")
    if auth:
        _, _, rest = auth.partition(" ")
        fields = dict(part.split("=", 1) for part in rest.split(","))
        secret = SECRETS.get(fields.get("Credential", ""))
        if secret is None or headers.get("x-acs-content-sha256") != sha256_hex(body):
            return False, ""
        canonical = v3_canonical_request(
            method=method,
            path="/",
            query=query,
            headers=headers,
            signed_headers=fields["SignedHeaders"].split(";"),
            payload_hash=sha256_hex(body),
        )
        return hmac.compare_digest(v3_signature(secret, canonical), fields["Signature"]), ""
    secret = SECRETS.get(query.get("AccessKeyId", ""))
    if secret is None or "Signature" not in query:
        return False, ""
    string_to_sign = v1_string_to_sign(method, {**query, **form})
    ok = hmac.compare_digest(v1_signature(secret, string_to_sign), query["Signature"])
    return ok, string_to_sign


async def default_reply(request: web.Request, received: Received) -> web.StreamResponse:
    if not received.signature_ok:
        message = "Specified signature is not matched with our calculation."
        if received.string_to_sign:
            message += " server string to sign is:" + received.string_to_sign
        return gateway_error(400, "SignatureDoesNotMatch", message)
    if received.action == "GetJobInstanceList":
        details = [
            {
                "InstanceId": 9000 + i,
                "JobId": int(received.query["JobId"]),
                "Status": 4,
                "TriggerType": 2,
                "DataTime": f"2024-01-0{i + 1} 10:00:00",
                "ScheduleTime": "2024-02-01 12:00:00",
                "StartTime": "2024-02-01 12:00:01",
                "EndTime": "2024-02-01 12:00:09",
            }
            for i in range(2)
        ]
        data = {"JobInstanceDetails": details}
        return api_json(200, {"RequestId": "REQ-LIST", "Code": 200, "Success": True, "Data": data})
    if received.action == "GetJobInfo":
        info = {
            "JobId": int(received.query["JobId"]),
            "Name": "daily-orders",
            "Status": 1,
            "JobType": "java",
            "ExecuteMode": "standalone",
            "MaxConcurrency": "1",
            "TimeConfig": {"TimeType": 1, "TimeExpression": "0 0 2 * * ?"},
        }
        body = {
            "RequestId": "REQ-INFO",
            "Code": 200,
            "Success": True,
            "Data": {"JobConfigInfo": info},
        }
        return api_json(200, body)
    return api_json(200, {"RequestId": "REQ-OK-1", "Code": 200, "Success": True, "Message": ""})


@dataclass
class ShapeServer:
    """A loopback SchedulerX stand-in whose answer each test chooses via `reply`."""

    reply: Reply = default_reply
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    # Helpers for tests (importlib import mode: tests cannot import conftest).
    json = staticmethod(api_json)
    error = staticmethod(gateway_error)
    default = staticmethod(default_reply)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        query = dict(request.query)
        headers = {k.lower(): v for k, v in request.headers.items()}
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        ok, string_to_sign = _verify(request.method, query, headers, body, form)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        received = Received(
            method=request.method,
            action=headers.get("x-acs-action") or query.get("Action"),
            query=query,
            headers=headers,
            body=body,
            form=form,
            peer_port=peer[1] if peer else None,
            signature_ok=ok,
            string_to_sign=string_to_sign,
        )
        self.received.append(received)
        return await self.reply(request, received)

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        app = web.Application()
        app.router.add_route("*", "/", self._handle)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest_asyncio.fixture
async def server() -> AsyncIterator[ShapeServer]:
    srv = ShapeServer()
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def unused_port() -> int:
    return free_port()


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest_asyncio.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[tuple[ShapeServer, Path]]:
    """The same server over HTTPS with a self-signed certificate (and that certificate)."""
    cert, key = self_signed_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    srv = ShapeServer()
    await srv.start(ssl_context=context)
    yield srv, cert
    await srv.stop()
