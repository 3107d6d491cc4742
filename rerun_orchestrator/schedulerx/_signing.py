"""Alibaba Cloud request signatures as pure functions: ACS3-HMAC-SHA256 (V3) and HMAC-SHA1 (V1).

Shared by the client (to sign) and the simulator (to verify), so both read the same
canonical forms. Reference: ../shared/reference/schedulerx-openapi.md §3 and its test vectors.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import quote

V3_ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def percent_encode(value: str) -> str:
    """RFC 3986 strict: only ``A-Z a-z 0-9 - _ . ~`` stay; upper-case hex for the rest."""
    return quote(value, safe="~", encoding="utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_query(params: Mapping[str, str]) -> str:
    """Parameters sorted by name (byte order), ``pct(name)=pct(value)`` joined by ``&``."""
    pairs = sorted((percent_encode(k), percent_encode(v)) for k, v in params.items())
    return "&".join(f"{k}={v}" for k, v in pairs)


def is_signable_header(name: str) -> bool:
    """The headers V3 requires to be signed: ``host``, ``content-type`` and ``x-acs-*``."""
    lowered = name.lower()
    return lowered in ("host", "content-type") or lowered.startswith("x-acs-")


def v3_canonical_request(
    *,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    signed_headers: Iterable[str],
    payload_hash: str,
) -> str:
    """The V3 CanonicalRequest over the headers named in `signed_headers`.

    `headers` may hold more than is signed; names are matched case-insensitively.
    """
    lowered = {k.lower(): v.strip() for k, v in headers.items()}
    names = sorted({name.lower() for name in signed_headers})
    canonical_headers = "".join(f"{name}:{lowered.get(name, '')}\n" for name in names)
    return "\n".join(
        (
            method.upper(),
            path,
            canonical_query(query),
            canonical_headers,
            ";".join(names),
            payload_hash,
        )
    )


def v3_signature(access_key_secret: str, canonical_request: str) -> str:
    """Hex HMAC-SHA256 of the StringToSign built from `canonical_request`."""
    string_to_sign = f"{V3_ALGORITHM}\n{sha256_hex(canonical_request.encode())}"
    return hmac.new(access_key_secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def v3_authorization(
    *,
    access_key_id: str,
    access_key_secret: str,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    payload_hash: str,
) -> str:
    """The ``Authorization`` value, signing every signable header present in `headers`."""
    names = sorted({k.lower() for k in headers if is_signable_header(k)})
    canonical = v3_canonical_request(
        method=method,
        path=path,
        query=query,
        headers=headers,
        signed_headers=names,
        payload_hash=payload_hash,
    )
    signature = v3_signature(access_key_secret, canonical)
    return (
        f"{V3_ALGORITHM} Credential={access_key_id},"
        f"SignedHeaders={';'.join(names)},Signature={signature}"
    )


def v1_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """``METHOD&%2F&pct(canonical query)`` over every parameter except ``Signature``."""
    signed = {k: v for k, v in params.items() if k != "Signature"}
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(signed))}"


def v1_signature(access_key_secret: str, string_to_sign: str) -> str:
    """Base64 HMAC-SHA1 keyed with ``secret + "&"``."""
    digest = hmac.new(
        f"{access_key_secret}&".encode(), string_to_sign.encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()
