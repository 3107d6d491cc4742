"""The SchedulerX wire: signing, endpoints, credentials, the aiohttp transport, responses, errors.

`SchedulerXClient` sends one signed attempt per call and returns what happened, classified
by the table in `classify` (SUCCEEDED, RETRY, RESIGN, AMBIGUOUS, PERMANENT). RerunJob is not
idempotent, so an attempt whose request may have reached the server is AMBIGUOUS, never
RETRY. Credentials come from a `CredentialsProvider`; `default_credentials_provider` follows
the official default chain. Nothing here retries, paces or logs attempts: the executor does.
"""

from ._aiohttp import AiohttpTransport, pool_size
from ._aliyun import (
    AliyunCredentialsProvider,
    aliyun_credentials_available,
    default_credentials_provider,
)
from ._classify import CODE_TABLE, STATUS_TABLE, Classification, classify
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
    AttemptResult,
    InstanceListPage,
    InstanceListQuery,
    InstanceStatus,
    JobInfo,
    JobInstance,
    RerunJobParams,
    TriggerType,
    Verdict,
)

__all__ = [
    "API_VERSION",
    "CODE_TABLE",
    "ENDPOINT_MAP",
    "PRODUCT",
    "STATUS_TABLE",
    "AiohttpTransport",
    "AliyunCredentialsProvider",
    "ApiCallError",
    "ApiResponse",
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
    "HttpRequest",
    "HttpResponse",
    "IniFileCredentialsProvider",
    "InstanceListPage",
    "InstanceListQuery",
    "InstanceStatus",
    "JobInfo",
    "JobInstance",
    "RefreshingCredentialsProvider",
    "RequestNotSentError",
    "RerunJobParams",
    "ResponseLostError",
    "SchedulerXClient",
    "SchedulerXError",
    "StaticCredentialsProvider",
    "Timeouts",
    "Transport",
    "TransportError",
    "TriggerType",
    "Verdict",
    "aliyun_credentials_available",
    "build_request",
    "check_endpoint_override",
    "classify",
    "default_credentials_provider",
    "format_timestamp",
    "parse_response",
    "pool_size",
    "resolve_endpoint",
]
