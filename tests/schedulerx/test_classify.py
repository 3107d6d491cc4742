"""The classification table and the lenient response parser (pure, no I/O)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rerun_orchestrator.schedulerx import (
    CODE_TABLE,
    ApiResponse,
    HttpResponse,
    RequestNotSentError,
    ResponseLostError,
    Scope,
    Verdict,
    classified,
    classify,
    parse_response,
)
from rerun_orchestrator.schedulerx._classify import is_explicit_refusal, match_code

R, S, A, P, OK = (
    Verdict.RETRY,
    Verdict.RESIGN,
    Verdict.AMBIGUOUS,
    Verdict.PERMANENT,
    Verdict.SUCCEEDED,
)


def http(
    status: int, body: object | bytes, content_type: str = "application/json", **headers: str
) -> HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(status, {"content-type": content_type, **headers}, raw)


def gateway(status: int, code: str) -> HttpResponse:
    return http(status, {"RequestId": "R1", "HostId": "h", "Code": code, "Message": "m"})


@pytest.mark.parametrize(
    ("status", "code", "verdict"),
    [
        (400, "Throttling", R),
        (400, "Throttling.User", R),
        (400, "Throttling.Api", R),
        (429, "Throttling.Concurrent", R),
        (400, "Rejected.Throttling", R),
        (503, "ServiceUnavailable", R),
        (400, "InvalidTimeStamp.Expired", S),
        (400, "SignatureNonceUsed", S),
        (400, "InvalidSecurityToken.Expired", S),
        (500, "InternalError", A),
        (503, "UnknownError", A),
        (400, "SignatureDoesNotMatch", P),
        (403, "SignatureDoesNotMatch", P),
        (400, "IncompleteSignature", P),
        (404, "InvalidAccessKeyId.NotFound", P),
        (400, "InvalidAccessKeyId.Inactive", P),
        (400, "InvalidSecurityToken.Malformed", P),
        (403, "Forbidden.RAM", P),
        (403, "NoPermission", P),
        (400, "MissingJobId", P),
        (400, "InvalidParameter", P),
        (404, "InvalidApi.NotFound", P),
        (400, "InvalidTimeStamp.Format", P),
        (400, "UnsupportedHTTPMethod", P),
        # Unknown codes fall back to the status.
        (400, "SomethingNew", P),
        (500, "SomethingNew", A),
        (503, "SomethingNew", R),
        (502, "SomethingNew", A),
    ],
)
def test_gateway_codes(status: int, code: str, verdict: Verdict) -> None:
    result = classify(parse_response(gateway(status, code)))
    assert result.verdict is verdict
    assert code in result.reason


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (429, R),
        (503, R),
        (500, A),
        (502, A),
        (504, A),
        (599, A),
        (101, A),
        # Not SchedulerX's answer: a redirect or a proxy's page may follow a forwarded call.
        (301, A),
        (302, A),
        (400, A),
        (404, A),
    ],
)
def test_statuses_without_a_code(status: int, verdict: Verdict) -> None:
    response = parse_response(http(status, b"<html><body>oops</body></html>", "text/html"))
    assert classify(response).verdict is verdict
    assert str(status) in classify(response).reason


@pytest.mark.parametrize(
    ("body", "verdict"),
    [
        ({"RequestId": "R", "Code": 200, "Success": True, "Message": "jobId=1 is not existed"}, OK),
        ({"RequestId": "R", "Success": True}, OK),
        ({"requestId": "R", "code": 200, "success": True}, OK),
        ({"RequestId": "R", "Code": 200, "Success": "true"}, OK),
        ({"RequestId": "R", "Code": 500, "Success": True}, A),
        ({"RequestId": "R", "Code": 415, "Success": False, "Message": "jobId=1 is not existed"}, P),
        ({"RequestId": "R", "Code": 415, "Success": False}, P),
        ({"RequestId": "R", "Code": 500, "Success": False, "Message": "Request too fast"}, R),
        ({"RequestId": "R", "Code": 500, "Success": False, "Message": "Throttling: slow down"}, R),
        ({"RequestId": "R", "Code": 41090004, "Success": False, "Message": "REQUEST_TOO_FAST"}, R),
        ({"RequestId": "R", "Code": 200}, A),
        ({}, A),
    ],
)
def test_business_results(body: dict[str, object], verdict: Verdict) -> None:
    assert classify(parse_response(http(200, body))).verdict is verdict


# -- one row carries every fact: verdict, throttle, scope, refresh ------------------------

G, L, RUN = Scope.CHUNK, Scope.LOCATION, Scope.RUN


@pytest.mark.parametrize(
    ("status", "body", "verdict", "throttle", "scope", "refresh"),
    [
        (400, {"Code": "Throttling.User"}, R, True, G, False),
        (429, {"Code": "Rejected.Throttling"}, R, True, G, False),
        (429, b"<html>slow down</html>", R, True, G, False),
        (503, {"Code": "ServiceUnavailable"}, R, False, G, False),
        # The bug of issue 9: business-level "too fast" is a throttle, not a success.
        (200, {"Code": 41090004, "Success": False, "Message": "x"}, R, True, G, False),
        (200, {"Code": 500, "Success": False, "Message": "Request too fast"}, R, True, G, False),
        (
            200,
            {"Code": 500, "Success": False, "Message": "jobId=1 is not existed"},
            P,
            False,
            G,
            False,
        ),
        (
            200,
            {"Code": 500, "Success": False, "Message": "groupid not exist groupId: g"},
            P,
            False,
            L,
            False,
        ),
        (
            200,
            {"Code": 500, "Success": False, "Message": "namespace can not find namespace: n"},
            P,
            False,
            L,
            False,
        ),
        (200, {"Code": 41090002, "Success": False, "Message": "NO_PERMISSION"}, P, False, L, False),
        (400, {"Code": "InvalidRegionId"}, P, False, L, False),
        (403, {"Code": "Forbidden.RAM"}, P, False, L, False),
        (403, {"Code": "NoPermission"}, P, False, L, False),
        (400, {"Code": "InvalidParameter"}, P, False, G, False),
        (400, {"Code": "MissingJobId"}, P, False, G, False),
        (400, {"Code": "MissingSecurityToken"}, P, False, RUN, True),
        (400, {"Code": "InvalidSecurityToken.MismatchWithAccessKey"}, P, False, RUN, True),
        (400, {"Code": "InvalidSecurityToken.Expired"}, S, False, RUN, True),
        (400, {"Code": "SignatureDoesNotMatch"}, P, False, RUN, False),
        (404, {"Code": "InvalidAccessKeyId.NotFound"}, P, False, RUN, False),
        (400, {"Code": "MissingAccessKeyId"}, P, False, RUN, False),
        (400, {"Code": "InvalidTimeStamp.Expired"}, S, False, RUN, False),
        (301, b"", A, False, L, False),
        (500, {"Code": "InternalError"}, A, False, G, False),
    ],
)
def test_each_row_carries_every_fact(
    status: int, body: object, verdict: Verdict, throttle: bool, scope: Scope, refresh: bool
) -> None:
    content_type = "text/html" if isinstance(body, bytes) else "application/json"
    row = classify(parse_response(http(status, body, content_type)))
    assert (row.verdict, row.throttle, row.scope, row.refresh_credentials) == (
        verdict,
        throttle,
        scope,
        refresh,
    ), row.reason


def test_the_attempt_result_carries_the_row() -> None:
    body = {"RequestId": "R", "Code": 41090004, "Success": False, "Message": "REQUEST_TOO_FAST"}
    result = classified(parse_response(http(200, body)))
    assert (result.verdict, result.throttled, result.scope) == (R, True, G)
    not_a_throttle = classified(parse_response(http(503, {"Code": "ServiceUnavailable"})))
    assert not not_a_throttle.throttled


def test_every_code_row_is_reachable() -> None:
    """First match wins: no row may be shadowed by an earlier wildcard."""
    for rule in CODE_TABLE:
        code = rule.pattern.rstrip("*") + ("X" if rule.pattern.endswith("*") else "")
        assert match_code(code) is rule, rule.pattern


@pytest.mark.parametrize(
    ("code", "explicit"),
    [
        (500, True),
        ("InvalidParameter", True),
        ("Throttling.User", False),
        (None, False),
        ("InternalError", False),
        ("SomethingNew", False),
    ],
)
def test_explicit_refusals(code: str | int | None, explicit: bool) -> None:
    assert is_explicit_refusal(code) is explicit


def test_success_false_reason_carries_the_message() -> None:
    body = {"RequestId": "R", "Code": 415, "Success": False, "Message": "jobId=1 is not existed"}
    response = parse_response(http(200, body))
    assert response.code == 415  # the integer, as the server sent it
    assert "jobId=1 is not existed" in classify(response).reason


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b"", "application/json", "empty body"),
        (b'{"RequestId": "R", "Code": 200, "Succ', "application/json", "truncated"),
        (b"<!DOCTYPE html><html>502 Bad Gateway</html>", "text/html", "HTML"),
        (b"<html>oops</html>", "", "HTML"),
        (b"\xff\xfe\x00garbage", "application/octet-stream", "not a JSON or XML"),
        (b"[1, 2]", "application/json", "not an object"),
        (b"[" * 100_000, "application/json", "truncated"),
    ],
)
def test_unreadable_200_is_ambiguous(body: bytes, content_type: str, error: str) -> None:
    response = parse_response(http(200, body, content_type))
    assert response.body_error is not None
    assert error in response.body_error
    result = classify(response)
    assert result.verdict is A
    assert classify(response, idempotent=True).verdict is R


def test_xml_gateway_error() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><RequestId>X-1</RequestId>'
        b"<HostId>schedulerx.aliyuncs.com</HostId><Code>Throttling.User</Code>"
        b"<Message>Request was denied due to user flow control &amp; more.</Message></Error>"
    )
    response = parse_response(http(400, body, "text/xml;charset=utf-8"))
    assert (response.request_id, response.code) == ("X-1", "Throttling.User")
    assert response.message == "Request was denied due to user flow control & more."
    assert classify(response).verdict is R


def test_lowercase_json_gateway_error() -> None:
    response = parse_response(
        http(400, {"requestId": "r-2", "code": "Throttling", "message": "slow"})
    )
    assert (response.request_id, response.code, response.message) == ("r-2", "Throttling", "slow")
    assert classify(response).verdict is R


@pytest.mark.parametrize(
    ("header", "expected"),
    [("1500", 1500), (" 20 ", 20), ("0", None), ("-5", None), ("soon", None), ("", None)],
)
def test_retry_after_is_milliseconds_and_positive(header: str, expected: int | None) -> None:
    response = parse_response(
        http(400, {"Code": "Throttling.User"}, **{"x-acs-retry-after": header})
    )
    assert response.retry_after_ms == expected


def test_transport_failures() -> None:
    not_sent = classify(RequestNotSentError("ClientConnectorError: refused"))
    lost = classify(ResponseLostError("SocketTimeoutError: read"))
    assert not_sent.verdict is R
    assert "refused" in not_sent.reason
    assert lost.verdict is A
    assert classify(ResponseLostError("x"), idempotent=True).verdict is R
    assert classify(RequestNotSentError("x"), idempotent=True).verdict is R


def test_idempotent_changes_only_ambiguous() -> None:
    for status, code in [
        (400, "Throttling"),
        (400, "InvalidParameter"),
        (400, "SignatureNonceUsed"),
    ]:
        response = parse_response(gateway(status, code))
        assert classify(response, idempotent=True).verdict is classify(response).verdict
    assert classify(parse_response(gateway(500, "InternalError")), idempotent=True).verdict is R


@given(
    status=st.integers(min_value=100, max_value=599),
    body=st.binary(max_size=300),
    content_type=st.sampled_from(["application/json", "text/xml;charset=utf-8", "text/html", ""]),
    retry_after=st.one_of(st.none(), st.text(max_size=8)),
)
def test_never_crashes_on_arbitrary_answers(
    status: int, body: bytes, content_type: str, retry_after: str | None
) -> None:
    headers = {"content-type": content_type}
    if retry_after is not None:
        headers["x-acs-retry-after"] = retry_after
    response = parse_response(HttpResponse(status, headers, body))
    result = classify(response)
    assert isinstance(result.verdict, Verdict)
    assert result.reason
    if result.verdict is OK:  # success only on a readable 2xx that says so
        assert 200 <= status < 300
        assert response.success is True


@given(
    code=st.one_of(st.none(), st.integers(), st.text(max_size=30)),
    success=st.one_of(st.none(), st.booleans(), st.text(max_size=5)),
    message=st.one_of(st.none(), st.text(max_size=40), st.integers()),
    status=st.sampled_from([200, 400, 403, 404, 500, 502, 503, 504]),
)
def test_never_crashes_on_arbitrary_json(
    code: object, success: object, message: object, status: int
) -> None:
    body = {"RequestId": "R", "Code": code, "Success": success, "Message": message}
    result = classify(parse_response(http(status, body)))
    assert isinstance(result.verdict, Verdict)
    if status != 200:
        assert result.verdict is not OK


def test_api_response_fields_default() -> None:
    response = ApiResponse(http_status=200, request_id=None, code=None, success=None, message=None)
    assert response.body_error is None
    assert classify(response).verdict is A
