"""Reading what the server said, leniently: JSON, the gateway's XML, or anything else.

The gateway and whatever sits in front of it (load balancers, proxies) answer in several
shapes: PascalCase JSON, lower-case JSON variants, an XML ``<Error>`` document, an HTML
error page, a truncated body. None of them may crash the client: every body becomes an
`ApiResponse` whose `body_error` says why it could not be read, and the classification
table decides what that means.

XML is read with a regular expression, not a parser: we need four flat elements, and a
regex cannot be made to expand entities or recurse.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from ._transport import HttpResponse
from ._wire import ApiResponse

RETRY_AFTER_HEADER = "x-acs-retry-after"

_XML_FIELD = re.compile(r"<(RequestId|Code|Message|HostId)>(.*?)</\1>", re.DOTALL)


def parse_retry_after(value: str | None) -> int | None:
    """``x-acs-retry-after`` in milliseconds; None unless a positive integer (as the SDK)."""
    if not value:
        return None
    try:
        millis = int(value.strip())
    except ValueError:
        return None
    return millis if millis > 0 else None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _as_code(value: Any) -> str | int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (str, int)):
        return value
    return str(value)


def _describe_unreadable(body: bytes, content_type: str) -> str:
    if not body.strip():
        return "empty body"
    head = body.lstrip()[:64].lower()
    if head.startswith((b"<!doctype html", b"<html")) or "html" in content_type:
        return f"HTML page instead of an API result ({content_type or 'no content-type'})"
    if head.startswith((b"{", b"[")):
        return "truncated or malformed JSON"
    return f"not a JSON or XML API result ({content_type or 'no content-type'})"


def _from_xml(text: str) -> dict[str, str] | None:
    fields = {name: html.unescape(value.strip()) for name, value in _XML_FIELD.findall(text)}
    return fields or None


def parse_response(response: HttpResponse) -> ApiResponse:
    """Turn raw HTTP into an `ApiResponse`; never raises.

    Reads ``RequestId``/``Code``/``Success``/``Message``/``Data`` from a JSON object (also the
    lower-case ``requestId``/``code``/... variants the SDK accepts) or from an XML
    ``<Error>`` document; anything else yields an `ApiResponse` with only the HTTP status,
    the retry-after hint and a `body_error`.
    """
    retry_after_ms = parse_retry_after(response.headers.get(RETRY_AFTER_HEADER))
    body = response.body
    parsed: Any = None
    try:
        parsed = json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        content_type = response.headers.get("content-type", "").lower()
        if "xml" in content_type or body.lstrip().startswith((b"<?xml", b"<Error")):
            parsed = _from_xml(body.decode("utf-8", errors="replace"))
    except RecursionError:
        parsed = None
    if not isinstance(parsed, dict):
        content_type = response.headers.get("content-type", "").lower()
        return ApiResponse(
            http_status=response.status,
            request_id=None,
            code=None,
            success=None,
            message=None,
            retry_after_ms=retry_after_ms,
            raw_body=body,
            body_error=_describe_unreadable(body, content_type)
            if parsed is None
            else "JSON result is not an object",
        )
    get = parsed.get
    # PascalCase is what SchedulerX sends; the lower-case variants are the SDK's fallbacks.
    request_id = get("RequestId") or get("requestId")
    code = get("Code")
    success = get("Success")
    message = get("Message")
    data = get("Data")
    if code is None and success is None:
        code, success, message, data = get("code"), get("success"), get("message"), get("data")
    return ApiResponse(
        http_status=response.status,
        request_id=request_id if request_id is None or type(request_id) is str else str(request_id),
        code=code if type(code) is int or type(code) is str else _as_code(code),
        success=success if type(success) is bool else _as_bool(success),
        message=message if message is None or type(message) is str else str(message),
        retry_after_ms=retry_after_ms,
        data=data if isinstance(data, dict) else None,
        raw_body=body,
    )
