"""The gateway's error answers: codes, HTTP statuses and messages as the real POP returns them.

A `GatewayError` is a value (failures are results); the HTTP layer renders it as
``{RequestId, HostId, Code, Message, Recommend}``. Codes and statuses follow reference
§4.2; messages follow the texts the Alibaba Cloud gateway is seen to send.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GatewayError:
    """An error the API gateway answers with, before or instead of the service."""

    status: int
    code: str
    message: str
    retry_after_ms: int | None = None


def missing(name: str) -> GatewayError:
    return GatewayError(400, f"Missing{name}", f"{name} is mandatory for this action.")


def invalid_parameter(name: str, value: str) -> GatewayError:
    return GatewayError(
        400, "InvalidParameter", f"The specified parameter {name} ({value!r}) is not valid."
    )


def throttled(retry_after_ms: int | None, code: str = "Throttling.User") -> GatewayError:
    return GatewayError(
        400, code, "Request was denied due to user flow control.", retry_after_ms=retry_after_ms
    )


API_NOT_FOUND = GatewayError(
    404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method."
)
BAD_VERSION = GatewayError(400, "InvalidVersion", "Specified parameter Version is not valid.")
BAD_METHOD = GatewayError(400, "UnsupportedHTTPMethod", "This http method is not supported.")
UNKNOWN_KEY = GatewayError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
MISSING_KEY = GatewayError(400, "MissingAccessKeyId", "AccessKeyId is mandatory for this action.")
TIMESTAMP_FORMAT = GatewayError(
    400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted."
)
TIMESTAMP_EXPIRED = GatewayError(
    400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."
)
NONCE_USED = GatewayError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
BAD_SIGNATURE_METHOD = GatewayError(
    400, "InvalidSignatureMethod", "Specified signature method is not valid."
)
BAD_SIGNATURE_VERSION = GatewayError(
    400, "InvalidSignatureVersion", "Specified signature version is not valid."
)
TOKEN_MISMATCH = GatewayError(
    400,
    "InvalidSecurityToken.MismatchWithAccessKey",
    "Specified SecurityToken mismatch with the AccessKey.",
)
TOKEN_MISSING = GatewayError(
    400, "MissingSecurityToken", "SecurityToken is mandatory for this AccessKey."
)
UNAVAILABLE = GatewayError(
    503,
    "ServiceUnavailable",
    "The request has failed due to a temporary failure of the server.",
)
INTERNAL = GatewayError(
    500,
    "InternalError",
    "The request processing has failed due to some unknown error, exception or failure.",
)


def incomplete_signature(detail: str) -> GatewayError:
    return GatewayError(
        400,
        "IncompleteSignature",
        f"The request signature does not conform to Aliyun standards. {detail}",
    )


def signature_mismatch(string_to_sign: str) -> GatewayError:
    return GatewayError(
        400,
        "SignatureDoesNotMatch",
        "Specified signature is not matched with our calculation. "
        f"server string to sign is:{string_to_sign}",
    )


def unknown_region(region: str) -> GatewayError:
    return GatewayError(400, "InvalidRegionId", f"The specified region {region!r} does not exist.")


def recommend(code: str, request_id: str) -> str:
    """The ``Recommend`` link the gateway adds to every error."""
    return (
        f"https://api.aliyun.com/troubleshoot?q={code}&product=schedulerx2&requestId={request_id}"
    )
