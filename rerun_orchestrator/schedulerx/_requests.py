"""Building one signed RPC request, as a pure function of its inputs.

Date and nonce are arguments, not read here, so a test can pin them and compare our bytes with
the official SDK's; the client passes a fresh pair on every attempt (docs/schedulerx-api.md §3:
a resend with an old nonce is refused, an old date expires after 15 minutes).

Placement follows the official SDK (docs/schedulerx-api.md §2): RerunJob sends its parameters
as an ``application/x-www-form-urlencoded`` body, the read APIs as a query string. The body is
``urlencode(sorted(params))``, the SDK's own encoding, so the bytes and hash are identical.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlencode

from ._credentials import Credentials
from ._endpoints import Endpoint
from ._signing import EMPTY_SHA256, canonical_query, sha256_hex, v1_signature, v1_string_to_sign
from ._signing import v3_authorization as _v3_authorization
from ._transport import HttpRequest
from ._wire import API_VERSION

SignatureVersion = Literal["v3", "v1"]
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def format_timestamp(epoch_seconds: float) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SSZ``, the form both signatures use."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_seconds))


def build_request(
    *,
    action: str,
    method: Literal["GET", "POST"],
    params: Mapping[str, str],
    in_body: bool,
    endpoint: Endpoint,
    credentials: Credentials,
    timestamp: str,
    nonce: str,
    user_agent: str,
    signature_version: SignatureVersion = "v3",
) -> HttpRequest:
    """A fully signed request for one RPC `action`.

    Args:
        params: the API parameters (``RegionId``, ``JobId``, ...), already strings.
        in_body: True to send `params` as a form body (RerunJob), False as the query.
        timestamp: from `format_timestamp`; nonce: unique per attempt.
    """
    body = urlencode(sorted(params.items())).encode() if in_body else b""
    parts = _Parts(
        action=action,
        method=method,
        params=params,
        query={} if in_body else params,
        body=body,
        endpoint=endpoint,
        credentials=credentials,
        token=credentials.security_token or None,
        timestamp=timestamp,
        nonce=nonce,
        user_agent=user_agent,
    )
    return _sign_v3(parts) if signature_version == "v3" else _sign_v1(parts)


@dataclass(frozen=True, slots=True)
class _Parts:
    action: str
    method: str
    params: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    endpoint: Endpoint
    credentials: Credentials = field(repr=False)
    token: str | None = field(repr=False)
    timestamp: str
    nonce: str
    user_agent: str


def _sign_v3(p: _Parts) -> HttpRequest:
    payload_hash = sha256_hex(p.body) if p.body else EMPTY_SHA256
    headers = {
        "host": p.endpoint.host,
        "x-acs-action": p.action,
        "x-acs-version": API_VERSION,
        "x-acs-date": p.timestamp,
        "x-acs-signature-nonce": p.nonce,
        "x-acs-content-sha256": payload_hash,
    }
    if p.body:
        headers["content-type"] = FORM_CONTENT_TYPE
    if p.token:
        # The SDK sends (and so signs) the key id next to the token.
        headers["x-acs-accesskey-id"] = p.credentials.access_key_id
        headers["x-acs-security-token"] = p.token
    headers["Authorization"] = _v3_authorization(
        access_key_id=p.credentials.access_key_id,
        access_key_secret=p.credentials.access_key_secret,
        method=p.method,
        path="/",
        query=p.query,
        headers=headers,
        payload_hash=payload_hash,
    )
    # Not signable (V3 signs host, content-type and x-acs-* only), so added after signing.
    headers["accept"] = "application/json"
    headers["user-agent"] = p.user_agent
    base = p.endpoint.base_url
    url = f"{base}/?{canonical_query(p.query)}" if p.query else f"{base}/"
    return HttpRequest(method=p.method, url=url, headers=headers, body=p.body)


def _sign_v1(p: _Parts) -> HttpRequest:
    common = {
        "Action": p.action,
        "Format": "json",
        "Version": API_VERSION,
        "Timestamp": p.timestamp,
        "SignatureNonce": p.nonce,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "AccessKeyId": p.credentials.access_key_id,
    }
    if p.token:
        common["SecurityToken"] = p.token
    url_params = {**p.query, **common}
    # Body parameters are part of the signed set although they travel in the body.
    signed = {**p.params, **common}
    url_params["Signature"] = v1_signature(
        p.credentials.access_key_secret, v1_string_to_sign(p.method, signed)
    )
    headers = {
        "host": p.endpoint.host,
        "x-acs-action": p.action,
        "x-acs-version": API_VERSION,
        "accept": "application/json",
        "user-agent": p.user_agent,
    }
    if p.body:
        headers["content-type"] = FORM_CONTENT_TYPE
    url = f"{p.endpoint.base_url}/?{canonical_query(url_params)}"
    return HttpRequest(method=p.method, url=url, headers=headers, body=p.body)
