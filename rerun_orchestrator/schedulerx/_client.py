"""The SchedulerX client: one signed attempt per call, its outcome classified.

The client knows the wire and nothing about plans: it signs, sends once through a
`Transport`, parses whatever came back and classifies it with the table in `_classify`.
Retrying, pacing and reconciliation belong to the executor, which is why `rerun_job`
returns its failures as an `AttemptResult` instead of raising them.
"""

from __future__ import annotations

import dataclasses
import secrets
import sys
from collections.abc import Callable, Mapping
from importlib import metadata
from types import TracebackType
from typing import Literal, Self

from .._clock import Clock, SystemClock
from ._aiohttp import AiohttpTransport
from ._classify import classify
from ._credentials import CredentialsProvider, InvalidatableCredentials
from ._endpoints import Endpoint, check_endpoint_override, resolve_endpoint
from ._errors import ApiCallError
from ._requests import SignatureVersion, build_request, format_timestamp
from ._responses import parse_response
from ._signing import percent_encode
from ._transport import (
    RequestNotSentError,
    ResponseLostError,
    Timeouts,
    Transport,
)
from ._wire import (
    ApiResponse,
    AppGroup,
    AttemptResult,
    InstanceListPage,
    InstanceListQuery,
    JobInfo,
    RerunJobParams,
    Verdict,
)


def _default_user_agent() -> str:
    try:
        version = metadata.version("rerun-orchestrator")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        version = "0"
    python = ".".join(map(str, sys.version_info[:3]))
    return f"rerun-orchestrator/{version} Python/{python}"


def _new_nonce() -> str:
    # Unique, not secret: 32 hex characters, like the SDK's nonce.
    return secrets.token_hex(16)


def _redact(response: ApiResponse, token: str) -> ApiResponse:
    """Remove the security token from what the server echoed.

    The gateway's V1 ``SignatureDoesNotMatch`` message quotes the string to sign, which holds
    the ``SecurityToken`` parameter (percent-encoded, then encoded again).
    """
    once = percent_encode(token)
    forms = sorted({token, once, percent_encode(once)}, key=len, reverse=True)
    message = response.message
    if message is not None and any(form in message for form in forms):
        for form in forms:
            message = message.replace(form, "***")
    raw = response.raw_body
    raw_forms = [form.encode() for form in forms]
    if any(form in raw for form in raw_forms):
        for raw_form in raw_forms:
            raw = raw.replace(raw_form, b"***")
    if message is response.message and raw is response.raw_body:
        return response
    return dataclasses.replace(response, message=message, raw_body=raw)


class SchedulerXClient:
    """Typed async calls to the SchedulerX OpenAPI (product ``schedulerx2``, 2019-04-30).

    One client serves a multi-region plan: without an `endpoint` override each request goes
    to the host of its own ``RegionId`` (`resolve_endpoint`); with one, every region goes to
    that URL. Use it as an async context manager, or call `aclose`.

    Args:
        credentials: where keys come from; asked before every attempt, so a refreshing
            provider rotates STS credentials without the client knowing.
        endpoint: override URL; ``http://`` is accepted only for a loopback host.
        transport: how bytes move; default a new `AiohttpTransport` with `timeouts`, which
            the client then closes. A transport passed in stays the caller's to close.
        signature_version: ``"v3"`` (ACS3-HMAC-SHA256, the SDK default) or ``"v1"``.
        timeouts: for the default transport only.
        clock: `wall()` dates the signatures, `now()` measures `elapsed_ms`.
        user_agent: the ``User-Agent`` header.
        nonce_factory: makes the per-attempt signature nonce (tests pin it).

    Raises:
        EndpointError: the override is refused.
    """

    def __init__(
        self,
        credentials: CredentialsProvider,
        *,
        endpoint: str | None = None,
        transport: Transport | None = None,
        signature_version: Literal["v3", "v1"] = "v3",
        timeouts: Timeouts | None = None,
        clock: Clock | None = None,
        user_agent: str | None = None,
        nonce_factory: Callable[[], str] | None = None,
    ) -> None:
        if signature_version not in ("v3", "v1"):
            raise ValueError(f"signature_version must be 'v3' or 'v1', not {signature_version!r}")
        self._credentials = credentials
        self._override = Endpoint.from_url(check_endpoint_override(endpoint)) if endpoint else None
        self._owns_transport = transport is None
        self._transport: Transport = transport or AiohttpTransport(timeouts=timeouts)
        self._signature_version: SignatureVersion = signature_version
        self._clock: Clock = clock or SystemClock()
        self._user_agent = user_agent or _default_user_agent()
        self._nonce = nonce_factory or _new_nonce
        self._endpoints: dict[str, Endpoint] = {}

    def _endpoint(self, region: str) -> Endpoint:
        if self._override is not None:
            return self._override
        endpoint = self._endpoints.get(region)
        if endpoint is None:
            endpoint = Endpoint.from_url(resolve_endpoint(region))
            self._endpoints[region] = endpoint
        return endpoint

    async def _call(
        self,
        action: str,
        method: Literal["GET", "POST"],
        params: Mapping[str, str],
        *,
        in_body: bool,
        idempotent: bool,
    ) -> AttemptResult:
        """Sign with fresh credentials, nonce and date; send once; classify. One flat coroutine
        on purpose: this is the hot path, and every extra await layer costs throughput."""
        endpoint = self._endpoint(params["RegionId"])
        credentials = await self._credentials.get_credentials()
        clock = self._clock
        request = build_request(
            action=action,
            method=method,
            params=params,
            in_body=in_body,
            endpoint=endpoint,
            credentials=credentials,
            timestamp=format_timestamp(clock.wall()),
            nonce=self._nonce(),
            user_agent=self._user_agent,
            signature_version=self._signature_version,
        )
        started = clock.now()
        try:
            http = await self._transport.send(request)
        except (RequestNotSentError, ResponseLostError) as exc:
            lost = classify(exc, idempotent=idempotent)
            elapsed_ms = (clock.now() - started) * 1000.0
            sent = not isinstance(exc, RequestNotSentError)
            return lost.result(None, elapsed_ms, wrote_request=sent)
        elapsed_ms = (clock.now() - started) * 1000.0
        response = parse_response(http)
        if credentials.security_token:
            response = _redact(response, credentials.security_token)
        row = classify(response, idempotent=idempotent)
        if row.refresh_credentials and isinstance(self._credentials, InvalidatableCredentials):
            # The next attempt (a re-sign) must not reuse credentials the server has refused.
            self._credentials.invalidate()
        return row.result(response, elapsed_ms)

    async def rerun_job(self, params: RerunJobParams) -> AttemptResult:
        """Send RerunJob once, freshly signed, and say what happened.

        Never raises for what the server or the network did: throttling, errors, timeouts
        and resets are all in the returned `AttemptResult` (with `elapsed_ms`).

        Raises:
            CredentialsError: no usable credentials (nothing was sent).
            EndpointError: the region has no known endpoint and no override is set.
        """
        return await self._call("RerunJob", "POST", params.form(), in_body=True, idempotent=False)

    async def retry_job_instance(
        self,
        *,
        region: str,
        namespace: str,
        group_id: str,
        job_id: int,
        instance_id: int,
        namespace_source: str | None = None,
    ) -> AttemptResult:
        """RetryJobInstance (POST, query string): run an ended instance again, the same
        instance id (no new instance for its day). Sent once, like `rerun_job`: a lost
        answer is AMBIGUOUS, never repeated blindly.
        """
        params = {
            "RegionId": region,
            "Namespace": namespace,
            "GroupId": group_id,
            "JobId": str(job_id),
            "JobInstanceId": str(instance_id),
        }
        if namespace_source is not None:
            params["NamespaceSource"] = namespace_source
        return await self._call("RetryJobInstance", "POST", params, in_body=False, idempotent=False)

    async def _read(
        self, action: str, params: Mapping[str, str], method: Literal["GET", "POST"] = "GET"
    ) -> ApiResponse:
        result = await self._call(action, method, params, in_body=False, idempotent=True)
        if result.verdict is not Verdict.SUCCEEDED or result.response is None:
            raise ApiCallError(action, result)
        return result.response

    async def get_job_instance_list(self, query: InstanceListQuery) -> InstanceListPage:
        """One page of a job's instances (GET, query string).

        Raises:
            ApiCallError: the call did not succeed; ``.result.verdict`` says whether to retry
                (read-only, so lost answers are RETRY, never AMBIGUOUS).
            CredentialsError, EndpointError: as for `rerun_job`.
        """
        response = await self._read("GetJobInstanceList", query.query())
        try:
            return InstanceListPage.from_data(
                response.data or {}, page_num=query.page_num, page_size=query.page_size
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise self._malformed("GetJobInstanceList", response, exc) from None

    async def get_job_info(
        self,
        *,
        region: str,
        namespace: str,
        group_id: str,
        job_id: int,
        namespace_source: str | None = None,
    ) -> JobInfo:
        """A job's configuration: a pre-flight check that the job exists in that group.

        Raises:
            ApiCallError: as for `get_job_instance_list` (an unknown job is PERMANENT).
        """
        params = {
            "RegionId": region,
            "Namespace": namespace,
            "GroupId": group_id,
            "JobId": str(job_id),
        }
        if namespace_source is not None:
            params["NamespaceSource"] = namespace_source
        response = await self._read("GetJobInfo", params)
        try:
            return JobInfo.from_data(response.data or {})
        except (KeyError, TypeError, ValueError) as exc:
            raise self._malformed("GetJobInfo", response, exc) from None

    async def list_groups(
        self, *, region: str, namespace: str, namespace_source: str | None = None
    ) -> tuple[AppGroup, ...]:
        """The application groups of a namespace with their edition (POST, query string).

        Raises:
            ApiCallError: as for `get_job_instance_list` (an unknown namespace is PERMANENT).
        """
        params = {"RegionId": region, "Namespace": namespace}
        if namespace_source is not None:
            params["NamespaceSource"] = namespace_source
        response = await self._read("ListGroups", params, "POST")
        try:
            items = (response.data or {}).get("AppGroups") or []
            return tuple(AppGroup.from_json(item) for item in items)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise self._malformed("ListGroups", response, exc) from None

    @staticmethod
    def _malformed(action: str, response: ApiResponse, exc: Exception) -> ApiCallError:
        reason = f"malformed Data in a successful answer ({type(exc).__name__}), safe to repeat"
        return ApiCallError(action, AttemptResult(Verdict.RETRY, reason, response))

    async def aclose(self) -> None:
        """Close the transport if this client created it."""
        if self._owns_transport:
            await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        target = self._override.base_url if self._override else "regional"
        return (
            f"SchedulerXClient(endpoint={target!r}, signature={self._signature_version!r}, "
            f"credentials={self._credentials!r})"
        )
