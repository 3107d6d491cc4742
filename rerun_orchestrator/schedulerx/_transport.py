"""The transport seam: "send this signed request, give me the raw response".

The client signs and parses; a transport only moves bytes. `AiohttpTransport` (in
`_aiohttp.py`) is the real one and the only place that imports aiohttp; tests may pass
any object with this shape. Transport failures are translated here into two exceptions
whose difference is the whole point: whether the request may have reached the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str  # full URL including the query string
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]  # names lower-cased
    body: bytes = field(repr=False)


class TransportError(Exception):
    """No usable HTTP response. Subclasses say whether the request may have been applied."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RequestNotSentError(TransportError):
    """The request certainly never reached the server (DNS, connect refused, pool timeout)."""


class ResponseLostError(TransportError):
    """The request was (or may have been) written, but no complete answer was read:
    read timeout, reset after writing, truncated body."""


class Transport(Protocol):
    async def send(self, request: HttpRequest) -> HttpResponse:
        """Send once, no retries. Raises `RequestNotSentError` or `ResponseLostError`."""
        ...

    async def aclose(self) -> None: ...
