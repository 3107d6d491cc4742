"""The classification table: from what happened on one attempt to every fact the run needs.

RerunJob is not idempotent, so the question behind every row is "could this call have been
applied?". Only an answer that proves it was not applied may be retried blindly; anything
that may have reached the server is AMBIGUOUS and must be reconciled before a resend.

Each row carries every fact about one kind of answer, so that nothing else in the program
gives a code its meaning: the verdict, whether it is a throttle (the rate limiter slows
down), its scope (would this chunk's neighbours get it too: this chunk, every chunk of its
location, or the whole run) and whether the credentials must be fetched afresh. Gateway
errors are matched on their string ``Code`` first (product pages disagree on the HTTP
status, docs/schedulerx-api.md §4.2), then on the HTTP status; SchedulerX business
results are HTTP 200 with an integer ``Code`` and ``Success``.

    condition                                       verdict    throttle scope    refresh
    ----------------------------------------------  ---------  -------- -------- -------
    request not sent (connect failed, pool timeout) RETRY
    request sent, answer lost (timeout, reset)      AMBIGUOUS
    Code Throttling*, Rejected.Throttling           RETRY      yes
    Code ServiceUnavailable                         RETRY
    Code InvalidTimeStamp.Expired                   RESIGN              run
    Code SignatureNonceUsed                         RESIGN
    Code InvalidSecurityToken.Expired               RESIGN              run      yes
    Code InvalidSecurityToken*, MissingSecurityToken PERMANENT          run      yes
    Code InternalError, UnknownError                AMBIGUOUS
    Code signature / key / account / API refusals   PERMANENT           run
    Code InvalidRegionId, Forbidden*, NoPermission* PERMANENT           location
    Code Missing* / Invalid* parameter errors       PERMANENT           chunk
    HTTP 2xx Success=true (Code 200 or absent)      SUCCEEDED
    HTTP 2xx Success=false, 41090004 / "too fast"   RETRY      yes
    HTTP 2xx Success=false, unknown group/namespace PERMANENT           location
    HTTP 2xx Success=false otherwise                PERMANENT           chunk    (unknown job)
    HTTP 2xx unreadable or without Success          AMBIGUOUS
    HTTP 429                                        RETRY      yes
    HTTP 503                                        RETRY
    HTTP 500, 502, 504, any other 5xx, 1xx          AMBIGUOUS
    HTTP 3xx, or a 4xx without an API error body    AMBIGUOUS           location (a middlebox:
                                                                        it may have forwarded)
    any other 4xx with an API error code            PERMANENT

For read-only calls (``idempotent=True``) AMBIGUOUS becomes RETRY: repeating a read is safe.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from ._transport import RequestNotSentError, ResponseLostError, TransportError
from ._wire import ApiResponse, AttemptResult, Scope, Verdict

RETRY, RESIGN, AMBIGUOUS, PERMANENT = (
    Verdict.RETRY,
    Verdict.RESIGN,
    Verdict.AMBIGUOUS,
    Verdict.PERMANENT,
)
CHUNK, LOCATION, RUN = Scope.CHUNK, Scope.LOCATION, Scope.RUN


@dataclass(frozen=True, slots=True)
class ErrorRule:
    """One row of the table: a code (exact, or a prefix when it ends in ``*``) and its facts."""

    pattern: str
    verdict: Verdict
    why: str
    throttle: bool = False
    scope: Scope = CHUNK
    refresh_credentials: bool = False

    def matches(self, code: str) -> bool:
        pattern = self.pattern
        return code == pattern or (pattern.endswith("*") and code.startswith(pattern[:-1]))


_QUOTA = "throttled by the API quota"
_WHO = "refused who is asking"

#: Gateway ``Code`` rows. First match wins, so specific rows come before the wildcards.
CODE_TABLE: Final[tuple[ErrorRule, ...]] = (
    ErrorRule("Throttling*", RETRY, _QUOTA, throttle=True),
    ErrorRule("Rejected.Throttling", RETRY, _QUOTA, throttle=True),
    ErrorRule("ServiceUnavailable", RETRY, "service unavailable, request refused"),
    ErrorRule(
        "InvalidTimeStamp.Expired",
        RESIGN,
        "request date outside the server's window (clock skew?)",
        scope=RUN,
    ),
    ErrorRule("SignatureNonceUsed", RESIGN, "signature nonce already used"),
    ErrorRule(
        "InvalidSecurityToken.Expired",
        RESIGN,
        "security token expired",
        scope=RUN,
        refresh_credentials=True,
    ),
    ErrorRule("InternalError", AMBIGUOUS, "server error, the call may have been applied"),
    ErrorRule("UnknownError", AMBIGUOUS, "server error, the call may have been applied"),
    # Refusals of who is asking: every chunk of the run would get the same answer.
    ErrorRule(
        "SignatureDoesNotMatch",
        PERMANENT,
        "signature rejected (wrong AccessKey secret?)",
        scope=RUN,
    ),
    ErrorRule("IncompleteSignature", PERMANENT, "signature rejected as incomplete", scope=RUN),
    ErrorRule("InvalidSignatureMethod", PERMANENT, "signature method refused", scope=RUN),
    ErrorRule("InvalidSignatureVersion", PERMANENT, "signature version refused", scope=RUN),
    ErrorRule("InvalidAccessKeyId*", PERMANENT, "AccessKeyId unknown or disabled", scope=RUN),
    ErrorRule("MissingAccessKeyId", PERMANENT, "no AccessKeyId was sent", scope=RUN),
    ErrorRule(
        "InvalidSecurityToken*",
        PERMANENT,
        "security token rejected",
        scope=RUN,
        refresh_credentials=True,
    ),
    ErrorRule(
        "MissingSecurityToken",
        PERMANENT,
        "this AccessKey needs a security token and none was sent",
        scope=RUN,
        refresh_credentials=True,
    ),
    ErrorRule("MissingSignature*", PERMANENT, "request not signed", scope=RUN),
    ErrorRule("InvalidTimeStamp.Format", PERMANENT, "request date not understood", scope=RUN),
    ErrorRule("Forbidden.RiskControl", PERMANENT, "account blocked by risk control", scope=RUN),
    ErrorRule("Forbidden.UserVerification", PERMANENT, "account needs verification", scope=RUN),
    ErrorRule("InvalidProtocol.NeedSsl", PERMANENT, "HTTPS required", scope=RUN),
    ErrorRule(
        "InvalidProduct.NotFound", PERMANENT, "endpoint does not serve SchedulerX", scope=RUN
    ),
    ErrorRule("InvalidApi.NotFound", PERMANENT, "API not found at this endpoint", scope=RUN),
    ErrorRule("InvalidAction.NotFound", PERMANENT, "API not found at this endpoint", scope=RUN),
    ErrorRule("InvalidVersion", PERMANENT, "API version refused", scope=RUN),
    ErrorRule("UnsupportedHTTPMethod", PERMANENT, "HTTP method not accepted", scope=RUN),
    # Refusals every chunk of one location would get.
    ErrorRule("InvalidRegionId", PERMANENT, "region unknown to SchedulerX", scope=LOCATION),
    ErrorRule("Forbidden*", PERMANENT, "permission denied", scope=LOCATION),
    ErrorRule("NoPermission*", PERMANENT, "permission denied", scope=LOCATION),
    # Refusals of this chunk.
    ErrorRule("Missing*", PERMANENT, "required parameter missing"),
    ErrorRule("Invalid*", PERMANENT, "request or parameter invalid"),
)

#: HTTP status rows; consulted when the code is absent or not in CODE_TABLE.
STATUS_TABLE: Final[dict[int, ErrorRule]] = {
    429: ErrorRule("HTTP 429", RETRY, "throttled (HTTP 429)", throttle=True),
    503: ErrorRule("HTTP 503", RETRY, "service unavailable (HTTP 503)"),
    500: ErrorRule(
        "HTTP 500", AMBIGUOUS, "server error (HTTP 500), the call may have been applied"
    ),
    502: ErrorRule("HTTP 502", AMBIGUOUS, "bad gateway (HTTP 502), the call may have been applied"),
    504: ErrorRule(
        "HTTP 504", AMBIGUOUS, "gateway timeout (HTTP 504), the call may have been applied"
    ),
}

#: SchedulerX business results (HTTP 200, ``Success=false``): legacy integer codes
#: (docs/schedulerx-api.md §4.3) and message fragments, first match wins.
BUSINESS_CODES: Final[dict[int, ErrorRule]] = {
    41090004: ErrorRule("41090004", RETRY, "rate limited by SchedulerX", throttle=True),
    41090001: ErrorRule("41090001", PERMANENT, "namespace not allowed", scope=LOCATION),
    41090002: ErrorRule("41090002", PERMANENT, "no permission", scope=LOCATION),
}
_TOO_FAST = ErrorRule("too fast", RETRY, "rate limited by SchedulerX", throttle=True)
BUSINESS_MESSAGES: Final[tuple[tuple[str, ErrorRule], ...]] = (
    ("throttl", _TOO_FAST),
    ("too fast", _TOO_FAST),
    ("too many requests", _TOO_FAST),
    ("rate limit", _TOO_FAST),
    ("flow control", _TOO_FAST),
    ("groupid not exist", ErrorRule("group", PERMANENT, "group unknown", scope=LOCATION)),
    ("can not find namespace", ErrorRule("ns", PERMANENT, "namespace unknown", scope=LOCATION)),
)

_MIDDLEBOX: Final = ErrorRule("middlebox", AMBIGUOUS, "", scope=LOCATION)


@dataclass(frozen=True, slots=True)
class Classification:
    """The table's answer: what to do, why in words a user can act on, and the row's facts."""

    verdict: Verdict
    reason: str
    throttle: bool = False
    scope: Scope = CHUNK
    refresh_credentials: bool = False

    @classmethod
    def of(cls, rule: ErrorRule, reason: str) -> Classification:
        return cls(rule.verdict, reason, rule.throttle, rule.scope, rule.refresh_credentials)

    def result(
        self, response: ApiResponse | None, elapsed_ms: float = 0.0, *, wrote_request: bool = True
    ) -> AttemptResult:
        """The `AttemptResult` of one attempt classified so (the executor's input)."""
        return AttemptResult(
            self.verdict,
            self.reason,
            response,
            elapsed_ms,
            wrote_request=wrote_request,
            throttle=self.throttle,
            scope=self.scope,
        )


def classified(response: ApiResponse, *, idempotent: bool = False) -> AttemptResult:
    """`classify(response).result(response)`: an answer as the executor receives it."""
    return classify(response, idempotent=idempotent).result(response)


_ACCEPTED: Final = Classification(Verdict.SUCCEEDED, "accepted")


def match_code(code: str) -> ErrorRule | None:
    """The first `CODE_TABLE` row for a gateway code, or None."""
    for rule in CODE_TABLE:
        if rule.matches(code):
            return rule
    return None


def is_explicit_refusal(code: str | int | None) -> bool:
    """Whether a chunk's recorded last code proves that its failure applied nothing.

    A business refusal (an integer code that is not a throttle) or a gateway code the
    table knows as PERMANENT does. Anything else does not: no code (an HTML page, a
    redirect, a lost answer), a server error, or even a throttle, because an earlier
    attempt of the same chunk may have been the ambiguous one (`--retry-failed`
    reconciles those before it resends them).
    """
    if isinstance(code, int):
        rule = BUSINESS_CODES.get(code)
        return rule is None or rule.verdict is PERMANENT
    if isinstance(code, str):
        rule = match_code(code)
        return rule is not None and rule.verdict is PERMANENT
    return False


def _classify_business_failure(code: str | int | None, message: str) -> Classification:
    rule = BUSINESS_CODES.get(code) if isinstance(code, int) else None
    if rule is None:
        lowered = message.lower()
        rule = next((r for word, r in BUSINESS_MESSAGES if word in lowered), None)
    if rule is None:
        return Classification(PERMANENT, f"rejected by SchedulerX: {message or f'Code={code}'}")
    if rule.verdict is RETRY:
        return Classification.of(rule, f"rate limited by SchedulerX: {message or code}")
    return Classification.of(rule, f"rejected by SchedulerX ({rule.why}): {message or code}")


def _classify_result(response: ApiResponse) -> Classification:
    """An HTTP 2xx: a SchedulerX result with ``Success``, or something we cannot read."""
    if response.body_error is not None:
        return Classification(AMBIGUOUS, f"HTTP {response.http_status} with {response.body_error}")
    code = response.code
    if response.success is True:
        if code in (None, 200, "200"):
            return _ACCEPTED
        return Classification(AMBIGUOUS, f"contradictory result: Success=true with Code={code}")
    if response.success is False:
        return _classify_business_failure(code, response.message or "")
    return Classification(AMBIGUOUS, f"HTTP {response.http_status} result without Success")


def _classify_response(response: ApiResponse) -> Classification:
    status, code = response.http_status, response.code
    if status == 200 and code == 200 and response.success is True:
        return _ACCEPTED  # the common case, first: an integer code never matches CODE_TABLE
    if isinstance(code, str) and (rule := match_code(code)) is not None:
        return Classification.of(rule, f"{rule.why} ({code}, HTTP {status})")
    if 200 <= status < 300:
        return _classify_result(response)
    label = f"{code}, HTTP {status}" if code is not None else f"HTTP {status}"
    if status in STATUS_TABLE:
        rule = STATUS_TABLE[status]
        return Classification.of(rule, rule.why if code is None else f"{rule.why} ({code})")
    if 300 <= status < 400:
        # We never follow redirects; whatever answered may have forwarded the call first.
        why = f"unexpected redirect ({label}): wrong endpoint or a proxy; may have been applied"
        return Classification.of(_MIDDLEBOX, why)
    if 400 <= status < 500:
        if code is None and response.success is None:
            # Not the gateway's answer (an HTML page from a proxy): it may have forwarded it.
            what = response.body_error or "no API error code"
            why = f"HTTP {status} with {what}: not SchedulerX's answer; may have been applied"
            return Classification.of(_MIDDLEBOX, why)
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
        return replace(
            result, verdict=RETRY, reason=f"{result.reason} (read-only call, safe to repeat)"
        )
    return result
