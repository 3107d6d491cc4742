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
class Timeouts:
    """Seconds one HTTP attempt may take.

    `connect` covers waiting for a pooled connection plus TCP and TLS set-up: a request that
    times out there was never sent, so it is safe to retry. `read` is the time the answer
    may take after that; `total` caps the whole attempt. The aiohttp transport enforces
    read and total as one deadline, ``min(total, connect + read)`` from the start of the
    attempt (one timer per call, as a bare aiohttp loop has; a per-chunk read timer cost
    ~6% of throughput). RerunJob answers in well under a second, so the read budget is
    generous on purpose: every timeout after sending costs a reconciliation.
    """

    connect: float = 5.0
    read: float = 30.0
    total: float = 60.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Timeouts.{name} must be positive")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str  # full URL including the query string
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(default=b"", repr=False)

    def __repr__(self) -> str:
        # The V1 query string carries the signature and any security token.
        return f"HttpRequest(method={self.method!r}, url={self.url.partition('?')[0]!r})"


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]  # look up by lower-case name (lower-cased or case-insensitive)
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
