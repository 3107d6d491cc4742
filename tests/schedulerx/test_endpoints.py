"""Regional endpoint resolution and the guard on endpoint overrides."""

from __future__ import annotations

import pytest
from alibabacloud_schedulerx220190430.client import Client
from alibabacloud_tea_openapi.models import Config

from rerun_orchestrator.schedulerx import (
    ENDPOINT_MAP,
    Endpoint,
    EndpointError,
    check_endpoint_override,
    resolve_endpoint,
)


@pytest.mark.parametrize(
    ("region", "url"),
    [
        ("cn-hangzhou", "https://schedulerx.cn-hangzhou.aliyuncs.com"),
        ("cn-shanghai", "https://schedulerx.cn-shanghai.aliyuncs.com"),
        ("cn-beijing", "https://schedulerx.cn-beijing.aliyuncs.com"),
        ("cn-shenzhen", "https://schedulerx.cn-shenzhen.aliyuncs.com"),
        ("ap-southeast-1", "https://schedulerx.aliyuncs.com"),
        ("us-east-1", "https://schedulerx.aliyuncs.com"),
        ("cn-shanghai-finance-1", "https://schedulerx.aliyuncs.com"),
    ],
)
def test_regions_resolve_as_the_sdk_map(region: str, url: str) -> None:
    assert resolve_endpoint(region) == url


def test_map_matches_the_official_sdk() -> None:
    sdk = Client(Config(access_key_id="a", access_key_secret="b", region_id="cn-hangzhou"))
    assert dict(ENDPOINT_MAP) == sdk._endpoint_map


def test_unknown_region_is_refused_not_guessed() -> None:
    with pytest.raises(EndpointError, match="cn-hangzou"):
        resolve_endpoint("cn-hangzou")


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("https://schedulerx.aliyuncs.com", "https://schedulerx.aliyuncs.com"),
        (
            "https://Schedulerx-VPC.cn-hangzhou.aliyuncs.com/",
            "https://schedulerx-vpc.cn-hangzhou.aliyuncs.com",
        ),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.1.2.3:1", "http://127.1.2.3:1"),
        ("http://localhost:9000/", "http://localhost:9000"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("https://10.0.0.1:8443", "https://10.0.0.1:8443"),
    ],
)
def test_accepted_overrides(url: str, normalised: str) -> None:
    assert check_endpoint_override(url) == normalised


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://schedulerx.aliyuncs.com", "plaintext"),
        ("http://10.0.0.1:8080", "plaintext"),
        ("http://127.0.0.1.evil.example", "plaintext"),
        ("http://api.localhost:8080", "plaintext"),  # a resolver may send it anywhere
        ("ftp://127.0.0.1", "https://"),
        ("schedulerx.aliyuncs.com", "https://"),
        ("https://", "no host"),
        ("https://host/api", "bare"),
        ("https://host/?a=b", "bare"),
        ("https://host:notaport", "not a valid URL"),
    ],
)
def test_refused_overrides(url: str, fragment: str) -> None:
    with pytest.raises(EndpointError, match=fragment):
        check_endpoint_override(url)


def test_user_info_is_refused_and_never_echoed() -> None:
    with pytest.raises(EndpointError) as info:
        check_endpoint_override("https://admin:CANARY-SECRET-8d1f@host.example")
    assert "CANARY" not in str(info.value)
    assert "host.example" in str(info.value)


def test_host_header_keeps_an_explicit_port() -> None:
    assert Endpoint.from_url("http://127.0.0.1:8080") == Endpoint(
        "http://127.0.0.1:8080", "127.0.0.1:8080"
    )
    assert Endpoint.from_url("https://schedulerx.aliyuncs.com").host == "schedulerx.aliyuncs.com"
    assert Endpoint.from_url("http://[::1]:5").host == "[::1]:5"
