"""Credentials behind a provider interface. The secret never appears in a repr or message.

Built-in providers follow the reference's default chain (§5): environment variables, the
aliyun CLI config, the INI credentials file; `AliyunCredentialsProvider` adapts the official
`alibabacloud-credentials` chain (RAM role, ECS role, OIDC) when that extra is installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Credentials:
    """An AccessKey pair, optionally temporary (STS) with a security token."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None  # epoch seconds; None = does not expire

    def __repr__(self) -> str:
        kind = "sts" if self.security_token else "static"
        return f"Credentials(access_key_id={self.access_key_id!r}, kind={kind!r}, secret=***)"

    __str__ = __repr__


class CredentialsProvider(Protocol):
    async def get_credentials(self) -> Credentials:
        """Current credentials, refreshed before they expire. Raises `CredentialsError`."""
        ...


class StaticCredentialsProvider:
    """Fixed credentials (tests, the in-process simulator, callers that manage keys)."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    async def get_credentials(self) -> Credentials:
        return self._credentials

    def __repr__(self) -> str:
        return f"StaticCredentialsProvider({self._credentials!r})"
