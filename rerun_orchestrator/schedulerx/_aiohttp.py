"""The real transport: one long-lived aiohttp session, and the only module that imports aiohttp.

Why one session: the official SDK opens a new session and TLS context on every async call
and manages about 24 calls/s over HTTPS, against thousands for a plain keep-alive loop. We
keep one `ClientSession` over a bounded `TCPConnector` pool, build the timeout object and
TLS context once, arm one deadline timer per call, and pass pre-encoded URLs so nothing is
re-parsed per call (bench/bench_client.py: ~0.91x a bare aiohttp loop).

Why "sent or not" is decided the way it is. The difference between `RequestNotSentError`
(retry freely) and `ResponseLostError` (reconcile first) is the whole point of this module,
and aiohttp does not say whether request bytes reached the wire. We draw the line where we
can prove it, by the exception's type: aiohttp raises `ClientConnectorError` (DNS, refused,
TLS handshake or certificate, proxy) and `ConnectionTimeoutError` (connect timeout) only
while obtaining a connection, and `InvalidURL` before that; those are "not
sent". Every other failure, including ones we do not recognise, is "may have been sent".
A pooled keep-alive connection that the server had already closed fails on write, and
then the server never saw the request, but we cannot tell that apart from a reset after
the server read it, so it is treated as ambiguous. aiohttp drops pooled connections it
sees closed before reuse and never retries a POST by itself, so this costs an occasional
reconciliation, never a duplicate (it does retry a GET once, which is harmless for the
read APIs). The keep-alive timeout is kept short (15 s, aiohttp's default) to make that
race rare. (Marking the connection hand-over with a connector hook gave the same answers
for ~1.5% of throughput; aiohttp's tracing hooks cost ~8%.)

The ``request_written`` failpoint fires once the response headers have arrived and before
the body is read: the server certainly has the request, and nothing is recorded yet.

Redirects are never followed: a redirect would carry a signed request to another host.

Answers are bounded: a body of at most `MAX_BODY_BYTES` (8 MiB; SchedulerX's answers are
a few KiB, a full GetJobInstanceList page well under 1 MiB), response headers as aiohttp
bounds them (`MAX_HEADER_*`). A larger body is not read: the connection is dropped and the
answer's body becomes a short note that parses as nothing, so the client classifies it as
an unreadable answer (ambiguous for RerunJob, retried for reads), as it would a truncated
one. A header over the limits fails the attempt as "may have been sent". A hostile or
broken proxy can then cost a reconciliation, never the process's memory.

A wait for a pooled connection is not a connect timeout. aiohttp counts the time a request
waits for a free connection against `ClientTimeout.connect`, so with more callers than
connections, healthy requests failed as "not sent: ConnectionTimeoutError" and were
retried. Here callers queue for one of `limit` slots first (first come, first served,
outside every timeout: nothing has started), and the connector under it never makes a
request wait, so the connect timeout measures connecting only. `run` sizes the pool to its
concurrency (`pool_size`).
"""

from __future__ import annotations

import asyncio
import ssl

import aiohttp
from yarl import URL

from .._failpoints import failpoint
from ._transport import HttpRequest, HttpResponse, RequestNotSentError, ResponseLostError, Timeouts

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_HEADER_LINE = 8190  # bytes in the status line or one header (aiohttp's default)
MAX_HEADER_FIELD = 8190  # bytes in one header value (aiohttp's default)
MAX_HEADERS = 128  # header lines per answer (aiohttp's default)
# What a too-large body is replaced by: neither JSON nor XML, so it parses as nothing.
TOO_LARGE = b"(answer body larger than 8 MiB: not read)"

# Connections `run` keeps beside its RerunJob calls in flight: for the reconciler's reads.
READ_CONNECTIONS = 4


def pool_size(concurrency: int) -> int:
    """The connections a run with `concurrency` calls in flight needs: one per call, plus
    the reconciler's reads, so that no call ever waits for a connection."""
    return concurrency + READ_CONNECTIONS


# Raised only before a connection is handed to the request: nothing was written.
_NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.InvalidURL)


def _safe_reason(exc: BaseException, request: HttpRequest) -> str:
    """``Type: message`` without the query string, which may hold a signature or token."""
    text = str(exc)
    _, sep, query = request.url.partition("?")
    if sep and query:
        text = text.replace(query, "<query>")
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


async def _read_bounded(response: aiohttp.ClientResponse) -> bytes:
    """The body, or `TOO_LARGE` (connection dropped) once it passes `MAX_BODY_BYTES`."""
    length = response.content_length
    if length is not None and length <= MAX_BODY_BYTES:
        return await response.read()  # reads exactly Content-Length bytes: the fast path
    if length is None:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                break
            chunks.append(chunk)
        else:
            return b"".join(chunks)
    response.close()  # the rest is never read; the connection is not reused
    return TOO_LARGE


_NO_CONTENT_TYPE = ("Content-Type",)


class AiohttpTransport:
    """`Transport` over one aiohttp session with a bounded keep-alive pool.

    Args:
        timeouts: connect / read / total budgets for one attempt (see `Timeouts`).
        limit: most requests (and connections) at once; callers beyond it wait their turn,
            and that wait counts against no timeout (see the module docstring).
        keepalive_timeout: seconds an idle connection is kept for reuse.
        ssl_context: TLS settings; default verifies certificates against the system store.
        proxy: an HTTP(S) proxy URL for every request, if the network needs one.
    """

    def __init__(
        self,
        *,
        timeouts: Timeouts | None = None,
        limit: int = 32,
        keepalive_timeout: float = 15.0,
        ssl_context: ssl.SSLContext | None = None,
        proxy: str | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._timeouts = timeouts or Timeouts()
        self._limit = limit
        self._slots = asyncio.Semaphore(limit)
        self._keepalive_timeout = keepalive_timeout
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._proxy = proxy
        # One deadline per attempt, as a bare aiohttp loop has: aiohttp's sock_read re-arms a
        # timer on every chunk and cost ~6% of throughput, and an answer here is one small
        # chunk anyway. So the read budget is folded into the total (see `Timeouts`).
        self._deadline = min(self._timeouts.total, self._timeouts.connect + self._timeouts.read)
        self._client_timeout = aiohttp.ClientTimeout(
            total=self._deadline,
            connect=self._timeouts.connect,
            sock_connect=self._timeouts.connect,
        )
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._urls: dict[str, URL] = {}

    def _open(self) -> aiohttp.ClientSession:
        # Created on first use: a ClientSession must be made inside the running loop.
        connector = aiohttp.TCPConnector(
            limit=self._limit,
            limit_per_host=self._limit,
            keepalive_timeout=self._keepalive_timeout,
            ssl=self._ssl,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._client_timeout,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=True,
            raise_for_status=False,
            trust_env=False,
            max_line_size=MAX_HEADER_LINE,
            max_field_size=MAX_HEADER_FIELD,
            max_headers=MAX_HEADERS,
        )
        return self._session

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Send once, no retries, no redirects.

        Raises:
            RequestNotSentError: the request certainly never left (or the transport is closed).
            ResponseLostError: it may have reached the server, but no complete answer was read.
        """
        if self._closed:
            raise RequestNotSentError("transport is closed")
        session = self._session or self._open()
        url = self._urls.get(request.url)
        if url is None:
            url = URL(request.url, encoded=True)  # already percent-encoded by the signer
            if "?" not in request.url:  # only query-less URLs repeat (one per endpoint)
                self._urls[request.url] = url
        async with self._slots:
            return await self._send(session, url, request)

    async def _send(
        self, session: aiohttp.ClientSession, url: URL, request: HttpRequest
    ) -> HttpResponse:
        try:
            async with session.request(
                request.method,
                url,
                headers=request.headers,
                data=request.body or None,
                # A body-less POST (ListGroups, RetryJobInstance) would otherwise get an
                # unsigned octet-stream Content-Type, which the gateway refuses.
                skip_auto_headers=None if request.body else _NO_CONTENT_TYPE,
                allow_redirects=False,
                proxy=self._proxy,
            ) as response:
                # The server has answered: it certainly got the request. Crash tests die here.
                failpoint("request_written")
                body = await _read_bounded(response)
                # A case-insensitive multidict: lower-case lookups work, no copy needed.
                return HttpResponse(status=response.status, headers=response.headers, body=body)
        except _NOT_SENT as exc:
            raise RequestNotSentError(_safe_reason(exc, request)) from None
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            if isinstance(exc, TimeoutError):
                reason = f"timeout: no complete answer within {self._deadline:g} s of the attempt"
                raise ResponseLostError(reason) from None
            raise ResponseLostError(_safe_reason(exc, request)) from None

    async def aclose(self) -> None:
        """Close the pool. Idempotent; later sends raise `RequestNotSentError`."""
        self._closed = True
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    @property
    def limit(self) -> int:
        """Most requests in flight at once (the pool's size)."""
        return self._limit

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("open" if self._session else "idle")
        return (
            f"AiohttpTransport(limit={self._limit}, timeouts={self._timeouts!r}, "
            f"proxy={'yes' if self._proxy else 'no'}, state={state!r})"
        )
