"""Every test vector of docs/schedulerx-api.md (TV1-TV5), through the signer and the builder."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from rerun_orchestrator.schedulerx import (
    Credentials,
    Endpoint,
    InstanceListQuery,
    RerunJobParams,
    build_request,
    format_timestamp,
)
from rerun_orchestrator.schedulerx._signing import (
    EMPTY_SHA256,
    canonical_query,
    sha256_hex,
    v1_signature,
    v1_string_to_sign,
    v3_authorization,
    v3_canonical_request,
    v3_signature,
)

HANGZHOU = Endpoint.from_url("https://schedulerx.cn-hangzhou.aliyuncs.com")
DATE = "2024-01-02T03:04:05Z"
NONCE = "0123456789abcdef0123456789abcdef"
RERUN = RerunJobParams(
    region="cn-hangzhou",
    namespace="adcfc35d-e2fe-4fe9-bbaa-20e90ffc1234",
    group_id="testSchedulerx.defaultGroup",
    job_id=123,
    start_date=1645459200000,
    end_date=1645718400000,
    data_time="10:00:00",
)
TV3_BODY = (
    b"DataTime=10%3A00%3A00&EndDate=1645718400000&GroupId=testSchedulerx.defaultGroup&JobId=123"
    b"&Namespace=adcfc35d-e2fe-4fe9-bbaa-20e90ffc1234&RegionId=cn-hangzhou&StartDate=1645459200000"
)


def _rerun(credentials: Credentials, version: str = "v3"):  # type: ignore[no-untyped-def]
    return build_request(
        action="RerunJob",
        method="POST",
        params=RERUN.form(),
        in_body=True,
        endpoint=HANGZHOU,
        credentials=credentials,
        timestamp=DATE,
        nonce=NONCE,
        user_agent="test-agent",
        signature_version=version,  # type: ignore[arg-type]
    )


def test_tv1_official_v3_example() -> None:
    headers = {
        "host": "ecs.cn-shanghai.aliyuncs.com",
        "x-acs-action": "RunInstances",
        "x-acs-version": "2014-05-26",
        "x-acs-date": "2023-10-26T10:22:32Z",
        "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
        "x-acs-content-sha256": EMPTY_SHA256,
    }
    query = {
        "ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
        "RegionId": "cn-shanghai",
    }
    canonical = v3_canonical_request(
        method="POST",
        path="/",
        query=query,
        headers=headers,
        signed_headers=headers,
        payload_hash=EMPTY_SHA256,
    )
    assert sha256_hex(canonical.encode()) == (
        "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
    )
    assert v3_signature("YourAccessKeySecret", canonical) == (
        "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    )
    assert v3_authorization(
        access_key_id="YourAccessKeyId",
        access_key_secret="YourAccessKeySecret",
        method="POST",
        path="/",
        query=query,
        headers=headers,
        payload_hash=EMPTY_SHA256,
    ) == (
        "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;"
        "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
        "Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    )


@pytest.mark.parametrize(
    ("timestamp_name", "expected"),
    [("Timestamp", "OLeaidS1JvxuMvnyHOwuJ+uX5qY="), ("TimeStamp", "CT9X0VtwR86fNWSnsc6v8YGOjuE=")],
)
def test_tv2_official_v1_example(timestamp_name: str, expected: str) -> None:
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        timestamp_name: "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    string_to_sign = v1_string_to_sign("GET", params)
    if timestamp_name == "Timestamp":
        assert string_to_sign == (
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
            "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"
            "%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z"
            "%26Version%3D2014-05-26"
        )
    signature = v1_signature("testsecret", string_to_sign)
    assert signature == expected
    assert canonical_query({"Signature": signature}) == "Signature=" + expected.replace(
        "+", "%2B"
    ).replace("=", "%3D")


def test_tv3_rerun_job_v3_through_the_builder() -> None:
    request = _rerun(Credentials("testid", "testsecret"))
    assert request.method == "POST"
    assert request.url == "https://schedulerx.cn-hangzhou.aliyuncs.com/"
    assert request.body == TV3_BODY
    assert request.headers["x-acs-content-sha256"] == (
        "3d434c05726c38abf455621c03aecbbab3c5961d288ca02fc0b44cb5c00ec5d3"
    )
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["Authorization"] == (
        "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=content-type;host;x-acs-action;"
        "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
        "Signature=cd2900d9951011356c5679d7daf8f36b3c00a014c74db1734f8f764af8a4fe4a"
    )
    canonical = v3_canonical_request(
        method="POST",
        path="/",
        query={},
        headers=request.headers,
        signed_headers=[
            "content-type",
            "host",
            "x-acs-action",
            "x-acs-content-sha256",
            "x-acs-date",
            "x-acs-signature-nonce",
            "x-acs-version",
        ],
        payload_hash=sha256_hex(TV3_BODY),
    )
    assert sha256_hex(canonical.encode()) == (
        "7297e5901bab2d244a5f5d7267cd85b21f7eaf60a8443d8037f0ff6a8f6bd61a"
    )


def test_tv3_rerun_job_v3_sts() -> None:
    request = _rerun(Credentials("testid", "testsecret", "testtoken"))
    assert request.headers["x-acs-accesskey-id"] == "testid"
    assert request.headers["x-acs-security-token"] == "testtoken"
    assert request.headers["Authorization"] == (
        "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=content-type;host;x-acs-accesskey-id;"
        "x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;"
        "x-acs-signature-nonce;x-acs-version,"
        "Signature=b96179ea77c1629be0e16ab0cc0f4595913842e98ed186bcafabc3b0e564229e"
    )


def test_tv4_rerun_job_v1_through_the_builder() -> None:
    request = _rerun(Credentials("testid", "testsecret"), "v1")
    query = dict(parse_qsl(urlsplit(request.url).query))
    assert request.body == TV3_BODY  # API parameters stay in the form body
    assert query["Signature"] == "vyqd/SCgxBVzfaPtEvr1mRmu6YQ="
    signed = {**query, **dict(parse_qsl(request.body.decode()))}
    assert v1_string_to_sign("POST", signed) == (
        "POST&%2F&AccessKeyId%3Dtestid%26Action%3DRerunJob%26DataTime%3D10%253A00%253A00"
        "%26EndDate%3D1645718400000%26Format%3Djson%26GroupId%3DtestSchedulerx.defaultGroup"
        "%26JobId%3D123%26Namespace%3Dadcfc35d-e2fe-4fe9-bbaa-20e90ffc1234"
        "%26RegionId%3Dcn-hangzhou%26SignatureMethod%3DHMAC-SHA1"
        "%26SignatureNonce%3D0123456789abcdef0123456789abcdef%26SignatureVersion%3D1.0"
        "%26StartDate%3D1645459200000%26Timestamp%3D2024-01-02T03%253A04%253A05Z"
        "%26Version%3D2019-04-30"
    )
    assert "SecurityToken" not in query


TV5_QUERY = {
    "RegionId": "cn-hangzhou",
    "Namespace": "adcfc35d-e2fe-4fe9-bbaa-20e90ffc1234",
    "GroupId": "testSchedulerx.defaultGroup",
    "JobName": "daily report*v2~x/é",
}


def test_tv5_awkward_characters_v3() -> None:
    assert canonical_query(TV5_QUERY) == (
        "GroupId=testSchedulerx.defaultGroup&JobName=daily%20report%2Av2~x%2F%C3%A9"
        "&Namespace=adcfc35d-e2fe-4fe9-bbaa-20e90ffc1234&RegionId=cn-hangzhou"
    )
    request = build_request(
        action="ListJobs",
        method="GET",
        params=TV5_QUERY,
        in_body=False,
        endpoint=HANGZHOU,
        credentials=Credentials("testid", "testsecret"),
        timestamp=DATE,
        nonce="fedcba9876543210fedcba9876543210",
        user_agent="test-agent",
    )
    assert request.body == b""
    assert "content-type" not in request.headers
    assert request.url == HANGZHOU.base_url + "/?" + canonical_query(TV5_QUERY)
    signed = request.headers["Authorization"].rpartition("Signature=")[2]
    assert signed == "04c03c820be21414251f676b8b29ef937664f187687e3fbcec0c587360af7034"
    canonical = v3_canonical_request(
        method="GET",
        path="/",
        query=TV5_QUERY,
        headers=request.headers,
        signed_headers=[
            "host",
            "x-acs-action",
            "x-acs-content-sha256",
            "x-acs-date",
            "x-acs-signature-nonce",
            "x-acs-version",
        ],
        payload_hash=EMPTY_SHA256,
    )
    assert sha256_hex(canonical.encode()) == (
        "da2701a3bacd17fd37d86be590bc37078774b095fe488348953aa90168079ef0"
    )


def test_tv5_awkward_characters_v1() -> None:
    request = build_request(
        action="ListJobs",
        method="GET",
        params=TV5_QUERY,
        in_body=False,
        endpoint=HANGZHOU,
        credentials=Credentials("testid", "testsecret"),
        timestamp=DATE,
        nonce="fedcba9876543210fedcba9876543210",
        user_agent="test-agent",
        signature_version="v1",
    )
    query = dict(parse_qsl(urlsplit(request.url).query))
    assert query["JobName"] == "daily report*v2~x/é"
    assert query["Format"] == "json"
    # The reference computed TV5-V1 with Format=JSON; the builder sends the SDK's "json".
    assert v1_signature("testsecret", v1_string_to_sign("GET", {**query, "Format": "JSON"})) == (
        "G363VO8wGT2lfAsdmrMRCJ9gWNc="
    )


def test_read_query_goes_in_the_url_not_the_body() -> None:
    query = InstanceListQuery(
        region="cn-hangzhou", namespace="ns", group_id="g", job_id=7, start_timestamp=5
    )
    request = build_request(
        action="GetJobInstanceList",
        method="GET",
        params=query.query(),
        in_body=False,
        endpoint=HANGZHOU,
        credentials=Credentials("testid", "testsecret"),
        timestamp=DATE,
        nonce=NONCE,
        user_agent="ua",
    )
    assert dict(parse_qsl(urlsplit(request.url).query)) == query.query()
    assert request.body == b""


def test_timestamp_format_is_utc_seconds() -> None:
    assert format_timestamp(1_704_164_645.9) == DATE
    assert format_timestamp(0) == "1970-01-01T00:00:00Z"
