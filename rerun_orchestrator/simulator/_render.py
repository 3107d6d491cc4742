"""Response bodies as bytes: JSON, XML (V1 without ``Format=JSON``) and the broken kinds.

Pure functions; the HTTP layer only copies what they return onto the wire. Keys come in
the order the real service sends them (RequestId first).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from ._errors import GatewayError, recommend

JSON_TYPE = "application/json;charset=utf-8"
XML_TYPE = "text/xml;charset=utf-8"
HTML_TYPE = "text/html"

_BAD_GATEWAY_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>Tengine</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


@dataclass(frozen=True, slots=True)
class Rendered:
    """An HTTP answer ready to send."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def new_request_id() -> str:
    """A fresh RequestId: UUID-shaped, upper-case hex, as the gateway sends."""
    return str(uuid.uuid4()).upper()


def _encode(document: dict[str, Any], root: str, fmt: str) -> tuple[bytes, str]:
    if fmt == "xml":
        xml = "<?xml version='1.0' encoding='UTF-8'?>" + _xml(root, document)
        return xml.encode(), XML_TYPE
    return json.dumps(document, ensure_ascii=False).encode(), JSON_TYPE


def _xml(name: str, value: Any) -> str:
    if isinstance(value, dict):
        inner = "".join(_xml(k, v) for k, v in value.items())
        return f"<{name}>{inner}</{name}>"
    if isinstance(value, list):
        # The POP XML form repeats the list's element name for each item.
        return "".join(_xml(name, item) for item in value)
    text = ("true" if value else "false") if isinstance(value, bool) else escape(str(value))
    return f"<{name}>{text}</{name}>"


def error(err: GatewayError, request_id: str, host: str, fmt: str = "json") -> Rendered:
    """A gateway error body: RequestId, HostId, Code, Message, Recommend."""
    document = {
        "RequestId": request_id,
        "HostId": host,
        "Code": err.code,
        "Message": err.message,
        "Recommend": recommend(err.code, request_id),
    }
    body, content_type = _encode(document, "Error", fmt)
    headers = {}
    if err.retry_after_ms is not None:
        headers["x-acs-retry-after"] = str(err.retry_after_ms)
    return Rendered(err.status, body, content_type, headers)


def answer(body: dict[str, Any], request_id: str, action: str, fmt: str = "json") -> Rendered:
    """An HTTP 200 service answer, success or business failure."""
    document = {"RequestId": request_id, **body}
    encoded, content_type = _encode(document, f"{action}Response", fmt)
    return Rendered(200, encoded, content_type)


def bad_gateway_page() -> Rendered:
    """What a failing front proxy answers: an HTML 502, no JSON at all."""
    return Rendered(502, _BAD_GATEWAY_PAGE, HTML_TYPE)


def truncated(rendered: Rendered) -> Rendered:
    """The same answer cut in half: a 200 whose body no JSON parser accepts."""
    return Rendered(
        rendered.status, rendered.body[: max(1, len(rendered.body) // 2)], rendered.content_type
    )
