"""Credentials behind a provider interface. The secret never appears in a repr or message.

Built-in providers follow the default chain of docs/schedulerx-api.md §5: environment
variables, the aliyun CLI config, the INI credentials file; `AliyunCredentialsProvider` adapts
the official `alibabacloud-credentials` chain (RAM role, ECS role, OIDC) when that extra is
installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import anyio

from .._clock import Clock, SystemClock
from .._logs import get_logger
from ._errors import CredentialsError, CredentialsNotFoundError

_log = get_logger("rerun_orchestrator.schedulerx")


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
    """Anything that can say which keys to sign with right now."""

    async def get_credentials(self) -> Credentials:
        """Current credentials, refreshed before they expire. Raises `CredentialsError`."""
        ...


@runtime_checkable
class InvalidatableCredentials(Protocol):
    """A provider that can forget what it holds (optional; the client uses it if present).

    The client calls `invalidate` when the server refuses the credentials in a way fresh
    ones may fix (an expired or refused security token), before it re-signs. Providers
    that cache, and chains that wrap them, implement it; others need not.
    """

    def invalidate(self) -> None:
        """Drop cached credentials: the next `get_credentials` fetches them afresh."""
        ...


def forward_invalidate(provider: object) -> None:
    """`provider.invalidate()` if it has the optional protocol; nothing otherwise."""
    if isinstance(provider, InvalidatableCredentials):
        provider.invalidate()


class StaticCredentialsProvider:
    """Fixed credentials (tests, the in-process simulator, callers that manage keys)."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    async def get_credentials(self) -> Credentials:
        return self._credentials

    def __repr__(self) -> str:
        return f"StaticCredentialsProvider({self._credentials!r})"


class ChainCredentialsProvider:
    """Try sources in order; the first that has credentials wins and is reused afterwards.

    A source raising `CredentialsNotFoundError` is skipped; any other `CredentialsError`
    stops the chain, because a half-configured source (a key id without its secret) is a
    mistake to fix, not a reason to fall back to some other account's keys. When no source
    has credentials, the error lists what each one lacked (names and paths, never values).
    """

    def __init__(self, *providers: CredentialsProvider) -> None:
        if not providers:
            raise ValueError("a credentials chain needs at least one provider")
        self._providers = providers
        self._winner: CredentialsProvider | None = None

    async def get_credentials(self) -> Credentials:
        if self._winner is not None:
            return await self._winner.get_credentials()
        missing: list[str] = []
        for provider in self._providers:
            try:
                credentials = await provider.get_credentials()
            except CredentialsNotFoundError as exc:
                missing.append(str(exc))
                continue
            self._winner = provider
            _log.debug("schedulerx.credentials.resolved", source=repr(provider))
            return credentials
        # One line per source, in the chain's order: what each one lacked.
        raise CredentialsNotFoundError(
            "no credentials found:" + "".join(f"\n  {reason}" for reason in missing)
        )

    def invalidate(self) -> None:
        """Forward to the source that won (the chain keeps it: the same source is asked
        again, for fresh credentials, not the next source in line)."""
        if self._winner is not None:
            forward_invalidate(self._winner)

    def __repr__(self) -> str:
        inner = ", ".join(repr(p) for p in self._providers)
        return f"ChainCredentialsProvider({inner})"


class RefreshingCredentialsProvider:
    """Cache another provider's credentials and fetch new ones before they expire.

    Credentials without `expires_at` are kept for good. Expiring ones are replaced once
    `refresh_before` seconds or less remain, by one caller while the others wait. If that
    refresh fails while the cached credentials are still valid, they are used and the
    failure is logged; once they have expired, the failure is raised.

    Args:
        provider: the source (an STS broker, a vault, ...).
        clock: its `wall()` is compared with `expires_at` (epoch seconds).
        refresh_before: seconds of validity that must remain; 5 minutes by default, so a
            request signed now is still valid when the server checks it.
    """

    def __init__(
        self,
        provider: CredentialsProvider,
        *,
        clock: Clock | None = None,
        refresh_before: float = 300.0,
    ) -> None:
        if refresh_before < 0:
            raise ValueError("refresh_before must not be negative")
        self._provider = provider
        self._clock: Clock = clock or SystemClock()
        self._refresh_before = refresh_before
        self._cached: Credentials | None = None
        self._lock = anyio.Lock()

    def _fresh(self, credentials: Credentials | None) -> bool:
        if credentials is None:
            return False
        if credentials.expires_at is None:
            return True
        return self._clock.wall() < credentials.expires_at - self._refresh_before

    async def get_credentials(self) -> Credentials:
        if self._fresh(self._cached):
            assert self._cached is not None
            return self._cached
        async with self._lock:
            cached = self._cached
            if self._fresh(cached):
                assert cached is not None
                return cached
            try:
                fresh = await self._provider.get_credentials()
            except CredentialsError as exc:
                now = self._clock.wall()
                if cached is not None and cached.expires_at is not None and now < cached.expires_at:
                    _log.warning(
                        "schedulerx.credentials.refresh_failed",
                        source=repr(self._provider),
                        error=str(exc),
                        expires_in_s=round(cached.expires_at - now, 1),
                    )
                    return cached
                raise
            self._cached = fresh
            if cached is not None:
                _log.debug("schedulerx.credentials.refreshed", source=repr(self._provider))
            return fresh

    def invalidate(self) -> None:
        """Forget the cached credentials: the server said the token is no longer good, so
        the next `get_credentials` fetches new ones whatever their `expires_at` says."""
        self._cached = None
        forward_invalidate(self._provider)

    def __repr__(self) -> str:
        return f"RefreshingCredentialsProvider({self._provider!r})"
