"""Request authentication as the gateway does it: V3 (ACS3-HMAC-SHA256) and V1 (HMAC-SHA1).

Pure given the request, the known keys and the wall time. It verifies from what the
caller *declares* (its SignedHeaders, its parameters), using the same canonical forms as
our signer (`schedulerx._signing`), so a client that canonicalises differently from the
reference fails here as it would against the real service.

Checks, in order: signature fields present, timestamp format and 15-minute window, key
known, (V3) body hash and every present ``host``/``content-type``/``x-acs-*`` header
signed, signature, STS token, nonce not replayed. The nonce is remembered only once the
signature is valid, so a forged request cannot burn a caller's nonces.
"""

from __future__ import annotations

import heapq
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ..schedulerx import _signing
from . import _errors
from ._config import CredentialSpec
from ._errors import GatewayError

_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?Z$")
_MASK = "******"


@dataclass(frozen=True, slots=True)
class IncomingRequest:
    """What the HTTP layer read: header names lower-cased, query and form decoded."""

    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    form: Mapping[str, str]
    body: bytes

    @property
    def is_v3(self) -> bool:
        return "authorization" in self.headers

    def params(self) -> dict[str, str]:
        """RPC parameters: the query merged with the form body (the body wins)."""
        return {**self.query, **self.form}

    def action_and_version(self) -> tuple[str | None, str | None]:
        if self.is_v3:
            return self.headers.get("x-acs-action"), self.headers.get("x-acs-version")
        params = self.params()
        return params.get("Action"), params.get("Version")


def parse_timestamp(text: str) -> float | None:
    """Epoch seconds of a UTC ``YYYY-MM-DDTHH:MM:SSZ`` (fractions allowed), else None."""
    match = _TIMESTAMP.match(text)
    if match is None:
        return None
    try:
        moment = datetime.strptime(match[1], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return moment.timestamp()


class NonceCache:
    """Nonces seen per AccessKey, each kept until its request's timestamp leaves the window."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self._expiry: list[tuple[float, tuple[str, str]]] = []

    def add(self, key: tuple[str, str], expires: float, wall: float) -> bool:
        """Remember `key`; False if it is already remembered (a replay)."""
        while self._expiry and self._expiry[0][0] < wall:
            self._seen.discard(heapq.heappop(self._expiry)[1])
        if key in self._seen:
            return False
        self._seen.add(key)
        heapq.heappush(self._expiry, (expires, key))
        return True

    def clear(self) -> None:
        self._seen.clear()
        self._expiry.clear()

    def __len__(self) -> int:
        return len(self._seen)


class Authenticator:
    """Verifies requests against the configured AccessKeys."""

    def __init__(self, credentials: Iterable[CredentialSpec], window_s: float) -> None:
        self._keys = {c.access_key_id: c for c in credentials}
        self._window = window_s
        self.nonces = NonceCache()

    def authenticate(self, request: IncomingRequest, wall: float) -> CredentialSpec | GatewayError:
        """The caller's credential, or the gateway error the real service would answer."""
        if request.is_v3:
            return self._v3(request, wall)
        return self._v1(request, wall)

    def _check_time(self, text: str | None, name: str, wall: float) -> float | GatewayError:
        if not text:
            return _errors.missing(name)
        moment = parse_timestamp(text)
        if moment is None:
            return _errors.TIMESTAMP_FORMAT
        if abs(moment - wall) > self._window:
            return _errors.TIMESTAMP_EXPIRED
        return moment

    def _finish(
        self, credential: CredentialSpec, token: str | None, nonce: str, moment: float, wall: float
    ) -> CredentialSpec | GatewayError:
        if credential.security_token is None:
            if token:
                return _errors.TOKEN_MISMATCH
        elif not token:
            return _errors.TOKEN_MISSING
        elif not hmac.compare_digest(token.encode(), credential.security_token.encode()):
            return _errors.TOKEN_MISMATCH
        key = (credential.access_key_id, nonce)
        if not self.nonces.add(key, moment + self._window, wall):
            return _errors.NONCE_USED
        return credential

    def _v3(self, request: IncomingRequest, wall: float) -> CredentialSpec | GatewayError:
        headers = request.headers
        fields = _parse_authorization(headers["authorization"])
        if isinstance(fields, GatewayError):
            return fields
        algorithm, key_id, signed, signature = fields
        if algorithm != _signing.V3_ALGORITHM:
            return _errors.BAD_SIGNATURE_METHOD
        nonce = headers.get("x-acs-signature-nonce")
        if not nonce:
            return _errors.missing("SignatureNonce")
        moment = self._check_time(headers.get("x-acs-date"), "Timestamp", wall)
        if isinstance(moment, GatewayError):
            return moment
        credential = self._keys.get(key_id)
        if credential is None:
            return _errors.UNKNOWN_KEY
        declared_key = headers.get("x-acs-accesskey-id")
        if declared_key is not None and declared_key != key_id:
            return _errors.incomplete_signature("x-acs-accesskey-id differs from the Credential.")
        payload_hash = headers.get("x-acs-content-sha256")
        if not payload_hash:
            return _errors.incomplete_signature("x-acs-content-sha256 is missing.")
        if payload_hash != _signing.sha256_hex(request.body):
            return GatewayError(
                400,
                "SignatureDoesNotMatch",
                "The x-acs-content-sha256 header does not match the SHA-256 of the request body.",
            )
        unsigned = sorted(
            name for name in headers if _signing.is_signable_header(name) and name not in signed
        )
        if unsigned:
            return _errors.incomplete_signature(
                f"Header(s) {', '.join(unsigned)} must be in SignedHeaders."
            )
        canonical = _signing.v3_canonical_request(
            method=request.method,
            path=request.path,
            query=request.query,
            headers=headers,
            signed_headers=signed,
            payload_hash=payload_hash,
        )
        expected = _signing.v3_signature(credential.access_key_secret, canonical)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            digest = _signing.sha256_hex(canonical.encode())
            return _errors.signature_mismatch(f"{_signing.V3_ALGORITHM}\n{digest}")
        token = headers.get("x-acs-security-token")
        return self._finish(credential, token, nonce, moment, wall)

    def _v1(self, request: IncomingRequest, wall: float) -> CredentialSpec | GatewayError:
        params = request.params()
        key_id = params.get("AccessKeyId")
        if not key_id:
            return _errors.MISSING_KEY
        signature = params.get("Signature")
        if not signature:
            return _errors.missing("Signature")
        method = params.get("SignatureMethod")
        if not method:
            return _errors.missing("SignatureMethod")
        if method != "HMAC-SHA1":
            return _errors.BAD_SIGNATURE_METHOD
        if params.get("SignatureVersion") != "1.0":
            return _errors.BAD_SIGNATURE_VERSION
        nonce = params.get("SignatureNonce")
        if not nonce:
            return _errors.missing("SignatureNonce")
        moment = self._check_time(params.get("Timestamp"), "Timestamp", wall)
        if isinstance(moment, GatewayError):
            return moment
        credential = self._keys.get(key_id)
        if credential is None:
            return _errors.UNKNOWN_KEY
        string_to_sign = _signing.v1_string_to_sign(request.method, params)
        expected = _signing.v1_signature(credential.access_key_secret, string_to_sign)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            # The real gateway echoes its StringToSign; ours masks an STS token in it so
            # that a client logging the message never leaks the token.
            shown = params
            if "SecurityToken" in params:
                shown = {**params, "SecurityToken": _MASK}
            return _errors.signature_mismatch(_signing.v1_string_to_sign(request.method, shown))
        return self._finish(credential, params.get("SecurityToken"), nonce, moment, wall)


def _parse_authorization(value: str) -> tuple[str, str, frozenset[str], str] | GatewayError:
    """``ALGO Credential=K,SignedHeaders=a;b,Signature=S`` → its four parts."""
    algorithm, _, rest = value.strip().partition(" ")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, content = item.strip().partition("=")
        if sep:
            parts[name.strip()] = content.strip()
    key_id, signed, signature = (parts.get(k) for k in ("Credential", "SignedHeaders", "Signature"))
    if not algorithm or not key_id or not signed or not signature:
        return _errors.incomplete_signature(
            "Authorization needs Credential, SignedHeaders and Signature."
        )
    return algorithm, key_id, frozenset(h.lower() for h in signed.split(";") if h), signature
