"""The SchedulerX wire: signing, endpoints, credentials, the aiohttp transport, responses, errors.

`SchedulerXClient` sends one signed attempt per call and returns what happened, classified
by the table in `classify` (SUCCEEDED, RETRY, RESIGN, AMBIGUOUS, PERMANENT). RerunJob is not
idempotent, so an attempt whose request may have reached the server is AMBIGUOUS, never
RETRY. Credentials come from a `CredentialsProvider`; `default_credentials_provider` follows
the official default chain. Nothing here retries, paces or logs attempts: the executor does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING

from .._lazy import lazy_exports as _lazy_exports

# public name -> the private module that defines it; imported on first use (PEP 562), so that
# `journal` (and `status`, `validate`) can use the wire types without loading aiohttp
_EXPORTS: dict[str, str] = {
    "AiohttpTransport": "._aiohttp",
    "pool_size": "._aiohttp",
    "AliyunCredentialsProvider": "._aliyun",
    "aliyun_credentials_available": "._aliyun",
    "default_credentials_provider": "._aliyun",
    "BUSINESS_CODES": "._classify",
    "BUSINESS_MESSAGES": "._classify",
    "CODE_TABLE": "._classify",
    "STATUS_TABLE": "._classify",
    "Classification": "._classify",
    "ErrorRule": "._classify",
    "classified": "._classify",
    "classify": "._classify",
    "SchedulerXClient": "._client",
    "CliConfigCredentialsProvider": "._credential_sources",
    "EnvironmentCredentialsProvider": "._credential_sources",
    "IniFileCredentialsProvider": "._credential_sources",
    "ChainCredentialsProvider": "._credentials",
    "Credentials": "._credentials",
    "CredentialsProvider": "._credentials",
    "InvalidatableCredentials": "._credentials",
    "RefreshingCredentialsProvider": "._credentials",
    "StaticCredentialsProvider": "._credentials",
    "ENDPOINT_MAP": "._endpoints",
    "Endpoint": "._endpoints",
    "check_endpoint_override": "._endpoints",
    "resolve_endpoint": "._endpoints",
    "ApiCallError": "._errors",
    "CredentialsError": "._errors",
    "CredentialsNotFoundError": "._errors",
    "EndpointError": "._errors",
    "SchedulerXError": "._errors",
    "build_request": "._requests",
    "format_timestamp": "._requests",
    "parse_response": "._responses",
    "HttpRequest": "._transport",
    "HttpResponse": "._transport",
    "RequestNotSentError": "._transport",
    "ResponseLostError": "._transport",
    "Timeouts": "._transport",
    "Transport": "._transport",
    "TransportError": "._transport",
    "API_VERSION": "._wire",
    "PRODUCT": "._wire",
    "ApiResponse": "._wire",
    "AppGroup": "._wire",
    "AttemptResult": "._wire",
    "InstanceListPage": "._wire",
    "InstanceListQuery": "._wire",
    "InstanceStatus": "._wire",
    "JobInfo": "._wire",
    "JobInstance": "._wire",
    "RerunJobParams": "._wire",
    "Scope": "._wire",
    "TriggerType": "._wire",
    "Verdict": "._wire",
}

__all__ = [
    "API_VERSION",
    "BUSINESS_CODES",
    "BUSINESS_MESSAGES",
    "CODE_TABLE",
    "ENDPOINT_MAP",
    "PRODUCT",
    "STATUS_TABLE",
    "AiohttpTransport",
    "AliyunCredentialsProvider",
    "ApiCallError",
    "ApiResponse",
    "AppGroup",
    "AttemptResult",
    "ChainCredentialsProvider",
    "Classification",
    "CliConfigCredentialsProvider",
    "Credentials",
    "CredentialsError",
    "CredentialsNotFoundError",
    "CredentialsProvider",
    "Endpoint",
    "EndpointError",
    "EnvironmentCredentialsProvider",
    "ErrorRule",
    "HttpRequest",
    "HttpResponse",
    "IniFileCredentialsProvider",
    "InstanceListPage",
    "InstanceListQuery",
    "InstanceStatus",
    "InvalidatableCredentials",
    "JobInfo",
    "JobInstance",
    "RefreshingCredentialsProvider",
    "RequestNotSentError",
    "RerunJobParams",
    "ResponseLostError",
    "SchedulerXClient",
    "SchedulerXError",
    "Scope",
    "StaticCredentialsProvider",
    "Timeouts",
    "Transport",
    "TransportError",
    "TriggerType",
    "Verdict",
    "aliyun_credentials_available",
    "build_request",
    "check_endpoint_override",
    "classified",
    "classify",
    "default_credentials_provider",
    "format_timestamp",
    "parse_response",
    "pool_size",
    "resolve_endpoint",
]


__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS, globals(), __all__)

if _TYPE_CHECKING:
    from ._aiohttp import AiohttpTransport, pool_size
    from ._aliyun import (
        AliyunCredentialsProvider,
        aliyun_credentials_available,
        default_credentials_provider,
    )
    from ._classify import (
        BUSINESS_CODES,
        BUSINESS_MESSAGES,
        CODE_TABLE,
        STATUS_TABLE,
        Classification,
        ErrorRule,
        classified,
        classify,
    )
    from ._client import SchedulerXClient
    from ._credential_sources import (
        CliConfigCredentialsProvider,
        EnvironmentCredentialsProvider,
        IniFileCredentialsProvider,
    )
    from ._credentials import (
        ChainCredentialsProvider,
        Credentials,
        CredentialsProvider,
        InvalidatableCredentials,
        RefreshingCredentialsProvider,
        StaticCredentialsProvider,
    )
    from ._endpoints import ENDPOINT_MAP, Endpoint, check_endpoint_override, resolve_endpoint
    from ._errors import (
        ApiCallError,
        CredentialsError,
        CredentialsNotFoundError,
        EndpointError,
        SchedulerXError,
    )
    from ._requests import build_request, format_timestamp
    from ._responses import parse_response
    from ._transport import (
        HttpRequest,
        HttpResponse,
        RequestNotSentError,
        ResponseLostError,
        Timeouts,
        Transport,
        TransportError,
    )
    from ._wire import (
        API_VERSION,
        PRODUCT,
        ApiResponse,
        AppGroup,
        AttemptResult,
        InstanceListPage,
        InstanceListQuery,
        InstanceStatus,
        JobInfo,
        JobInstance,
        RerunJobParams,
        Scope,
        TriggerType,
        Verdict,
    )
