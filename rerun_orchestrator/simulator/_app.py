"""The aiohttp layer: decode requests for the gateway, put its outcomes on the wire.

Also serves the inspection routes under ``/_simulator/``. Nothing here decides anything
about the protocol; that is `_gateway`'s job.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from . import _errors, _render
from ._auth import IncomingRequest
from ._faults import FaultRule
from ._gateway import Gateway, Outcome

_log = logging.getLogger(__name__)

_FORM = "application/x-www-form-urlencoded"
Sleeper = Callable[[float], Awaitable[None]]


def build_app(gateway: Gateway, sleep: Sleeper) -> web.Application:
    """The web application of one simulator; `sleep` delays slow answers (cancellable)."""
    app = web.Application()
    routes = _Routes(gateway, sleep)
    app.router.add_route("*", "/", routes.api)
    app.router.add_get("/_simulator/calls", routes.calls)
    app.router.add_get("/_simulator/instances", routes.instances)
    app.router.add_get("/_simulator/retries", routes.retries)
    app.router.add_get("/_simulator/skipped", routes.skipped)
    app.router.add_get("/_simulator/peaks", routes.peaks)
    app.router.add_get("/_simulator/counters", routes.counters)
    app.router.add_get("/_simulator/requests", routes.requests)
    app.router.add_get("/_simulator/faults", routes.get_faults)
    app.router.add_post("/_simulator/faults", routes.set_faults)
    app.router.add_post("/_simulator/reset", routes.reset)
    app.router.add_route("*", "/{tail:.*}", routes.not_found)
    return app


def decode(request: web.Request, body: bytes) -> IncomingRequest:
    """The parts the gateway needs, decoded once: ``+`` and ``%XX`` as a form decoder reads them."""
    query = dict(parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True))
    form: dict[str, str] = {}
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type == _FORM and body:
        form = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    headers = {name.lower(): _latin1(value) for name, value in request.headers.items()}
    return IncomingRequest(request.method, request.path, headers, query, form, body)


def _latin1(value: str) -> str:
    # HTTP/1.1 header bytes are ISO-8859-1 (as a Java gateway reads them); aiohttp hands
    # us UTF-8 with surrogate escapes, which cannot even be re-encoded for hashing.
    return value.encode("utf-8", "surrogateescape").decode("latin-1")


def _reset_connection(request: web.Request) -> None:
    """Abort the TCP connection with an RST (SO_LINGER 0), as a crashed front end would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _json(data: Any, status: int = 200) -> web.Response:
    body = json.dumps(data, ensure_ascii=False).encode()
    return web.Response(status=status, body=body, headers={"Content-Type": _render.JSON_TYPE})


def _parse_rules(raw: bytes) -> list[FaultRule] | str:
    """Fault rules from a JSON body, or the reason they are invalid."""
    try:
        data = json.loads(raw or b"[]")
        items = data.get("faults", []) if isinstance(data, dict) else data
        if not isinstance(items, list):
            return 'expected a list of fault rules, or {"faults": [...]}'
        return [FaultRule.from_mapping(item) for item in items]
    except ValueError as exc:
        return str(exc)


class _Routes:
    def __init__(self, gateway: Gateway, sleep: Sleeper) -> None:
        self._gateway = gateway
        self._sleep = sleep

    async def api(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        host = request.headers.get("Host", "")
        try:
            outcome = self._gateway.handle(decode(request, body), host)
        except Exception:
            # A simulator bug: answer as the real service does to its own bugs, and say so.
            _log.exception("simulator bug while handling %s", request.method)
            request_id = _render.new_request_id()
            outcome = Outcome(request_id, _render.error(_errors.INTERNAL, request_id, host))
        if outcome.delay_s > 0:
            await self._sleep(outcome.delay_s)
        rendered = outcome.rendered
        if rendered is None:
            _reset_connection(request)
            # Never written: the transport is gone.
            return web.Response(status=500)
        headers = {"Content-Type": rendered.content_type, "x-acs-request-id": outcome.request_id}
        return web.Response(
            status=rendered.status, body=rendered.body, headers=headers | rendered.headers
        )

    async def not_found(self, request: web.Request) -> web.Response:
        request_id = _render.new_request_id()
        rendered = _render.error(_errors.API_NOT_FOUND, request_id, request.headers.get("Host", ""))
        headers = {"Content-Type": rendered.content_type, "x-acs-request-id": request_id}
        return web.Response(status=rendered.status, body=rendered.body, headers=headers)

    async def calls(self, request: web.Request) -> web.Response:
        return _json(self._gateway.calls())

    async def instances(self, request: web.Request) -> web.Response:
        raw = request.query.get("job_id")
        if raw is not None and not raw.isdigit():
            return _json({"error": f"job_id must be an integer, got {raw!r}"}, status=400)
        return _json(self._gateway.instances(None if raw is None else int(raw)))

    async def retries(self, request: web.Request) -> web.Response:
        return _json(self._gateway.retries())

    async def peaks(self, request: web.Request) -> web.Response:
        raw = request.query.get("trigger_type")
        if raw is not None and not raw.isdigit():
            return _json({"error": f"trigger_type must be an integer, got {raw!r}"}, status=400)
        return _json(self._gateway.peaks(None if raw is None else int(raw)))

    async def skipped(self, request: web.Request) -> web.Response:
        return _json(self._gateway.skipped())

    async def counters(self, request: web.Request) -> web.Response:
        return _json(self._gateway.counters())

    async def requests(self, request: web.Request) -> web.Response:
        return _json(self._gateway.requests())

    async def get_faults(self, request: web.Request) -> web.Response:
        return _json(self._gateway.faults())

    async def set_faults(self, request: web.Request) -> web.Response:
        """Replace the fault rules: a JSON list of rules, or ``{"faults": [...]}``."""
        rules = _parse_rules(await request.read())
        if isinstance(rules, str):
            return _json({"error": rules}, status=400)
        self._gateway.set_faults(rules)
        return _json(self._gateway.faults())

    async def reset(self, request: web.Request) -> web.Response:
        self._gateway.reset()
        return _json({"reset": True})
