"""The classification table: from what happened on one attempt to one action.

RerunJob is not idempotent, so the question behind every row is "could this call have been
applied?". Only an answer that proves it was not applied may be retried blindly; anything
that may have reached the server is AMBIGUOUS and must be reconciled before a resend.
Gateway errors are matched on their string ``Code`` first (product pages disagree on the
HTTP status, reference §4.2), then on the HTTP status; SchedulerX business results are HTTP
200 with an integer ``Code`` and ``Success``.

    condition                                         verdict     why
    ------------------------------------------------  ----------  ------------------------------
    request not sent (connect failed, pool timeout)    RETRY       certainly not applied
    request sent, answer lost (timeout, reset, cut)    AMBIGUOUS   may have been applied
    Code Throttling*, Rejected.Throttling              RETRY       quota; honour x-acs-retry-after
    Code ServiceUnavailable                            RETRY       refused before processing
    Code InvalidTimeStamp.Expired, SignatureNonceUsed  RESIGN      fresh date/nonce fixes it
    Code InvalidSecurityToken.Expired                  RESIGN      refreshed credentials fix it
    Code InternalError, UnknownError                   AMBIGUOUS   failed somewhere inside
    Code signature / key / token / permission /
         Missing* / Invalid* parameter errors          PERMANENT   resending cannot help
    HTTP 2xx Success=true (Code 200 or absent)         SUCCEEDED
    HTTP 2xx Success=false, "throttl"/"too fast"       RETRY       business-level rate limit
    HTTP 2xx Success=false otherwise                   PERMANENT   e.g. job or group not found
    HTTP 2xx unreadable or without Success             AMBIGUOUS   accepted or not, we can't tell
    HTTP 429, 503                                      RETRY
    HTTP 500, 502, 504, any other 5xx, 1xx             AMBIGUOUS
    HTTP 3xx (we never follow redirects)               PERMANENT   wrong endpoint
    any other 4xx                                      PERMANENT

For read-only calls (``idempotent=True``) AMBIGUOUS becomes RETRY: repeating a read is safe.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from ._transport import RequestNotSentError, ResponseLostError, TransportError
from ._wire import ApiResponse, Verdict

RETRY, RESIGN, AMBIGUOUS, PERMANENT = (
    Verdict.RETRY,
    Verdict.RESIGN,
    Verdict.AMBIGUOUS,
    Verdict.PERMANENT,
)

#: Gateway ``Code`` (exact, or a prefix when it ends in ``*``) -> verdict, why. First match wins.
CODE_TABLE: Final[tuple[tuple[str, Verdict, str], ...]] = (
    ("Throttling*", RETRY, "throttled by the API quota"),
    ("Rejected.Throttling", RETRY, "throttled by the API quota"),
    ("ServiceUnavailable", RETRY, "service unavailable, request refused"),
    ("InvalidTimeStamp.Expired", RESIGN, "request date outside the server's window (clock skew?)"),
    ("SignatureNonceUsed", RESIGN, "signature nonce already used"),
    ("InvalidSecurityToken.Expired", RESIGN, "security token expired"),
    ("InternalError", AMBIGUOUS, "server error, the call may have been applied"),
    ("UnknownError", AMBIGUOUS, "server error, the call may have been applied"),
    ("SignatureDoesNotMatch", PERMANENT, "signature rejected (wrong AccessKey secret?)"),
    ("IncompleteSignature", PERMANENT, "signature rejected as incomplete"),
    ("InvalidAccessKeyId*", PERMANENT, "AccessKeyId unknown or disabled"),
    ("InvalidSecurityToken*", PERMANENT, "security token rejected"),
    ("Forbidden*", PERMANENT, "permission denied"),
    ("NoPermission*", PERMANENT, "permission denied"),
    ("Missing*", PERMANENT, "required parameter missing"),
    ("Invalid*", PERMANENT, "request or parameter invalid"),
    ("UnsupportedHTTPMethod", PERMANENT, "HTTP method not accepted"),
)

#: HTTP status -> verdict, why; consulted when the code is absent or not in CODE_TABLE.
STATUS_TABLE: Final[dict[int, tuple[Verdict, str]]] = {
    429: (RETRY, "throttled (HTTP 429)"),
    503: (RETRY, "service unavailable (HTTP 503)"),
    500: (AMBIGUOUS, "server error (HTTP 500), the call may have been applied"),
    502: (AMBIGUOUS, "bad gateway (HTTP 502), the call may have been applied"),
    504: (AMBIGUOUS, "gateway timeout (HTTP 504), the call may have been applied"),
}

#: Legacy SchedulerX business code REQUEST_TOO_FAST (reference §4.3).
_TOO_FAST_CODES: Final = frozenset({41090004})
_TOO_FAST_WORDS: Final = ("throttl", "too fast", "too many requests", "rate limit")


class Classification(NamedTuple):
    """The table's answer: what to do, and why in words a user can act on."""

    verdict: Verdict
    reason: str


_ACCEPTED: Final = Classification(Verdict.SUCCEEDED, "accepted")


def _match_code(code: str) -> tuple[Verdict, str] | None:
    for pattern, verdict, why in CODE_TABLE:
        if code == pattern or (pattern.endswith("*") and code.startswith(pattern[:-1])):
            return verdict, why
    return None


def _classify_result(response: ApiResponse) -> Classification:
    """An HTTP 2xx: a SchedulerX result with ``Success``, or something we cannot read."""
    if response.body_error is not None:
        return Classification(AMBIGUOUS, f"HTTP {response.http_status} with {response.body_error}")
    code, message = response.code, response.message or ""
    if response.success is True:
        if code in (None, 200, "200"):
            return _ACCEPTED
        return Classification(AMBIGUOUS, f"contradictory result: Success=true with Code={code}")
    if response.success is False:
        lowered = message.lower()
        if code in _TOO_FAST_CODES or any(word in lowered for word in _TOO_FAST_WORDS):
            return Classification(RETRY, f"rate limited by SchedulerX: {message or code}")
        return Classification(PERMANENT, f"rejected by SchedulerX: {message or f'Code={code}'}")
    return Classification(AMBIGUOUS, f"HTTP {response.http_status} result without Success")


def _classify_response(response: ApiResponse) -> Classification:
    status, code = response.http_status, response.code
    if status == 200 and code == 200 and response.success is True:
        return _ACCEPTED  # the common case, first: an integer code never matches CODE_TABLE
    if isinstance(code, str) and (match := _match_code(code)) is not None:
        verdict, why = match
        return Classification(verdict, f"{why} ({code}, HTTP {status})")
    if 200 <= status < 300:
        return _classify_result(response)
    label = f"{code}, HTTP {status}" if code is not None else f"HTTP {status}"
    if status in STATUS_TABLE:
        verdict, why = STATUS_TABLE[status]
        return Classification(verdict, why if code is None else f"{why} ({code})")
    if 300 <= status < 400:
        return Classification(PERMANENT, f"unexpected redirect ({label}): wrong endpoint?")
    if 400 <= status < 500:
        return Classification(PERMANENT, f"request refused ({label})")
    return Classification(AMBIGUOUS, f"unexpected answer ({label}), the call may have been applied")


def classify(outcome: ApiResponse | TransportError, *, idempotent: bool = False) -> Classification:
    """Classify one attempt: a parsed response, or the transport failure that replaced it.

    Args:
        outcome: what `parse_response` made of the answer, or the `RequestNotSentError` /
            `ResponseLostError` the transport raised instead.
        idempotent: True for read-only calls, which turns AMBIGUOUS into RETRY.
    """
    if isinstance(outcome, RequestNotSentError):
        result = Classification(RETRY, f"request not sent: {outcome.reason}")
    elif isinstance(outcome, ResponseLostError):
        result = Classification(AMBIGUOUS, f"no answer after sending: {outcome.reason}")
    elif isinstance(outcome, TransportError):
        result = Classification(AMBIGUOUS, f"transport failure: {outcome.reason}")
    else:
        result = _classify_response(outcome)
    if idempotent and result.verdict is AMBIGUOUS:
        return Classification(RETRY, f"{result.reason} (read-only call, safe to repeat)")
    return result
