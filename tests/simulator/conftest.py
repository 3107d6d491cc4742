"""Fixtures for the simulator tests: a manual clock, a simulator factory, a raw signed client.

The raw client signs with `schedulerx._signing` and sends through aiohttp with the query
bytes exactly as built, so tests can also send what a well-behaved SDK never would
(unsigned headers, replayed nonces, stale dates, a body that does not match its hash).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import pytest_asyncio
from yarl import URL

from rerun_orchestrator.schedulerx import _signing
from rerun_orchestrator.simulator import JobSpec, Simulator, SimulatorConfig

NS = "ns-1"
GROUP = "g1"
REGION = "cn-hangzhou"


class ManualClock:
    """Time that moves only when a test says so; wall time starts at the real time so
    requests signed with it also pass the official SDK's and our own window checks."""

    def __init__(self, wall: float | None = None) -> None:
        self._mono = 1000.0
        self._wall = time.time() if wall is None else wall

    def now(self) -> float:
        return self._mono

    def wall(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> None:
        self._mono += seconds
        self._wall += seconds

    async def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))


def base_config(**overrides: Any) -> SimulatorConfig:
    """A permissive config (no quota) with a few jobs; tests replace what they exercise."""
    config = SimulatorConfig(
        credentials=SimulatorConfig.default().credentials,
        jobs=(
            JobSpec(REGION, NS, GROUP, ((1, 2), (10, 20), (1000, 100_000))),
            JobSpec(REGION, NS, "g2", ((30, 30),)),
            JobSpec(REGION, NS, "basic.group", ((300, 300),), edition="basic"),
            JobSpec(REGION, "ns-src", "gs", ((400, 400),), namespace_source="schedulerx"),
        ),
        quota={},
        default_quota=None,
    )
    return replace(config, **overrides)


@pytest_asyncio.fixture
async def start_sim() -> AsyncIterator[Callable[..., Awaitable[Simulator]]]:
    """Start simulators on the test's loop; all are stopped after the test."""
    started: list[Simulator] = []

    async def start(config: SimulatorConfig | None = None, clock: Any = None) -> Simulator:
        simulator = Simulator(config or base_config(), clock=clock)
        await simulator.start()
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        await simulator.stop()


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RawClient:
    """Signs as docs/schedulerx-api.md §3 says (V3 or V1) and lets a test break any single part."""

    session: aiohttp.ClientSession
    url: str
    key_id: str = "testid"
    secret: str = "testsecret"
    token: str | None = None
    wall: Callable[[], float] = time.time
    sent_nonces: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def _date(self, skew: float = 0.0) -> str:
        moment = datetime.fromtimestamp(self.wall() + skew, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    async def send(
        self, method: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> Reply:
        text = f"{self.url}/?{_signing.canonical_query(query)}" if query else f"{self.url}/"
        # aiohttp adds an (unsigned) octet-stream Content-Type to a body-less POST.
        skip = () if "content-type" in headers else ("Content-Type",)
        async with self.session.request(
            method,
            URL(text, encoded=True),
            headers=dict(headers),
            data=body or None,
            skip_auto_headers=skip,
        ) as resp:
            return Reply(resp.status, dict(resp.headers), await resp.read())

    async def v3(
        self,
        action: str,
        params: Mapping[str, str],
        *,
        method: str = "POST",
        in_query: bool = False,
        nonce: str | None = None,
        skew: float = 0.0,
        extra_headers: Mapping[str, str] | None = None,
        unsigned_headers: Mapping[str, str] | None = None,
        body_override: bytes | None = None,
        secret: str | None = None,
    ) -> Reply:
        query: dict[str, str] = dict(params) if in_query or method == "GET" else {}
        body = b"" if query else urlencode(dict(params)).encode()
        headers = {
            "host": self.host,
            "x-acs-action": action,
            "x-acs-version": "2019-04-30",
            "x-acs-date": self._date(skew),
            "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
            "x-acs-content-sha256": _signing.sha256_hex(body),
        }
        if body:
            headers["content-type"] = "application/x-www-form-urlencoded"
        if self.token is not None:
            headers["x-acs-accesskey-id"] = self.key_id
            headers["x-acs-security-token"] = self.token
        headers.update(extra_headers or {})
        headers["Authorization"] = _signing.v3_authorization(
            access_key_id=self.key_id,
            access_key_secret=secret or self.secret,
            method=method,
            path="/",
            query=query,
            headers=headers,
            payload_hash=headers["x-acs-content-sha256"],
        )
        headers.update(unsigned_headers or {})
        self.sent_nonces.append(headers["x-acs-signature-nonce"])
        return await self.send(
            method, query, headers, body if body_override is None else body_override
        )

    async def v1(
        self,
        action: str,
        params: Mapping[str, str],
        *,
        method: str = "POST",
        fmt: str | None = "JSON",
        nonce: str | None = None,
        skew: float = 0.0,
        secret: str | None = None,
        params_in_body: bool = True,
    ) -> Reply:
        common = {
            "Action": action,
            "Version": "2019-04-30",
            "AccessKeyId": self.key_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": nonce or uuid.uuid4().hex,
            "Timestamp": self._date(skew),
        }
        if fmt is not None:
            common["Format"] = fmt
        if self.token is not None:
            common["SecurityToken"] = self.token
        in_body = params_in_body and method == "POST"
        query = common if in_body else {**common, **params}
        body = urlencode(dict(params)).encode() if in_body else b""
        string_to_sign = _signing.v1_string_to_sign(method, {**common, **params})
        query = {**query, "Signature": _signing.v1_signature(secret or self.secret, string_to_sign)}
        headers = {"host": self.host}
        if body:
            headers["content-type"] = "application/x-www-form-urlencoded"
        return await self.send(method, query, headers, body)


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def rerun_params(
    job_id: int = 10, start: int = 1_645_459_200_000, end: int = 1_645_718_400_000, **kw: str
) -> dict[str, str]:
    """RerunJob parameters; the default range is 2022-02-22..2022-02-25 in Asia/Shanghai."""
    params = {
        "RegionId": REGION,
        "Namespace": NS,
        "GroupId": GROUP,
        "JobId": str(job_id),
        "StartDate": str(start),
        "EndDate": str(end),
        "DataTime": "10:00:00",
    }
    params.update(kw)
    return params


def list_params(job_id: int = 10, **kw: str) -> dict[str, str]:
    params = {"RegionId": REGION, "Namespace": NS, "GroupId": GROUP, "JobId": str(job_id)}
    params.update(kw)
    return params


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make_config() -> Callable[..., SimulatorConfig]:
    """`base_config`: a permissive config; keyword arguments replace its fields."""
    return base_config


class Params:
    """Builders for API parameters (fixture `params`)."""

    rerun = staticmethod(rerun_params)
    listing = staticmethod(list_params)


@pytest.fixture
def params() -> type[Params]:
    return Params


@pytest.fixture
def raw(http: aiohttp.ClientSession) -> Callable[..., RawClient]:
    """``raw(simulator, key_id=..., secret=..., token=..., wall=...)``: a signing client."""

    def make(simulator: Simulator, **kw: Any) -> RawClient:
        return RawClient(http, simulator.url, **kw)

    return make
