"""The official credentials library behind our provider interface, and the default chain.

RAM role assumption, ECS instance roles, OIDC (RRSA on Kubernetes), SSO and credential URIs
all involve a token exchange with refresh rules we would rather not re-implement;
``alibabacloud-credentials`` (the ``aliyun-credentials`` extra) does them, and caches and
refreshes what it gets. `AliyunCredentialsProvider` adapts it; it is imported lazily, so the
package works without the extra as long as plain keys are enough.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from ._credential_sources import (
    CliConfigCredentialsProvider,
    EnvironmentCredentialsProvider,
    IniFileCredentialsProvider,
)
from ._credentials import ChainCredentialsProvider, Credentials, CredentialsProvider
from ._errors import CredentialsError, CredentialsNotFoundError

EXTRA_HINT = "install 'rerun-orchestrator[aliyun-credentials]'"
_OIDC_VARS = (
    "ALIBABA_CLOUD_ROLE_ARN",
    "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
    "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
)


def _mute_library_logging() -> None:
    """Take the official library's own stderr handlers off its logger ``credentials``.

    Its modules add a `StreamHandler` at import and log each failure with its traceback
    (``log.exception``), and at debug level the credentials they got: three tracebacks
    before our one-line reason, on a user's terminal. Its failures reach the user as the
    reason of its step in our error; its records go nowhere (not propagated: a host's
    handlers might print a secret)."""
    logger = logging.getLogger("credentials")
    theirs = {
        id(getattr(module, "ch", None))
        for name, module in list(sys.modules.items())
        if name.startswith("alibabacloud_credentials")
    }
    for handler in list(logger.handlers):
        if id(handler) in theirs:
            logger.removeHandler(handler)
    if not logger.handlers:  # else logging's last resort prints them to stderr all the same
        logger.addHandler(logging.NullHandler())
    logger.propagate = False


def aliyun_credentials_available() -> bool:
    """True when the optional ``alibabacloud-credentials`` library can be imported."""
    return importlib.util.find_spec("alibabacloud_credentials") is not None


def _short(exc: BaseException) -> str:
    text = " ".join(str(getattr(exc, "message", None) or exc).split())
    text = text[:300] + ("..." if len(text) > 300 else "")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class AliyunCredentialsProvider:
    """Credentials from the official ``alibabacloud-credentials`` library.

    Args:
        source: an ``alibabacloud_credentials.client.Client``, one of its providers (anything
            with ``get_credentials_async()``), or a zero-argument callable that builds one on
            first use (so a missing role or file is reported when needed, not at import).
            Default: the library's own default chain, ``Client()``.
        name: how errors and logs name this source.
        absent_is_not_found: raise `CredentialsNotFoundError` (a chain moves on) instead of
            `CredentialsError` (a chain stops) when the library finds nothing.

    Raises (from `get_credentials`):
        CredentialsError: the extra is not installed, or the library failed.
    """

    def __init__(
        self,
        source: Any = None,
        *,
        name: str = "aliyun-credentials",
        absent_is_not_found: bool = False,
    ) -> None:
        self._source = source
        self._name = name
        self._error: type[CredentialsError] = (
            CredentialsNotFoundError if absent_is_not_found else CredentialsError
        )
        self._built: Any = None

    def _sdk(self) -> Any:
        if self._built is not None:
            return self._built
        if not aliyun_credentials_available():
            raise CredentialsError(
                f"{self._name}: the official credentials library is missing; {EXTRA_HINT}"
            )
        source = self._source
        if source is None:
            from alibabacloud_credentials.client import Client  # noqa: PLC0415 - optional extra

            source = Client()
        elif (
            callable(source)
            and not hasattr(source, "get_credentials_async")
            and not hasattr(source, "get_credential_async")
        ):
            source = source()
        self._built = source
        _mute_library_logging()  # its modules are imported by now
        return source

    async def get_credentials(self) -> Credentials:
        try:
            sdk = self._sdk()
            if hasattr(sdk, "get_credentials_async"):
                got = await sdk.get_credentials_async()
                key_id, secret = got.get_access_key_id(), got.get_access_key_secret()
                token, expiration = got.get_security_token(), got.get_expiration()
            else:
                model = await sdk.get_credential_async()
                key_id, secret = model.access_key_id, model.access_key_secret
                token, expiration = model.security_token, None
        except CredentialsError:
            raise
        except Exception as exc:
            raise self._error(f"{self._name}: {_short(exc)}") from None
        finally:
            _mute_library_logging()  # a module imported on first use adds its handler then
        if not key_id or not secret:
            raise CredentialsError(f"{self._name}: the library returned no AccessKey pair")
        return Credentials(
            str(key_id),
            str(secret),
            str(token) if token else None,
            float(expiration) if expiration else None,
        )

    def invalidate(self) -> None:
        """Build the library's provider again on the next call, so that it fetches new
        credentials instead of serving the refused ones from its own cache. A provider
        object passed in ready-made cannot be rebuilt and is asked again as it is."""
        if self._source is None or (
            callable(self._source)
            and not hasattr(self._source, "get_credentials_async")
            and not hasattr(self._source, "get_credential_async")
        ):
            self._built = None

    def __repr__(self) -> str:
        return f"AliyunCredentialsProvider(name={self._name!r})"


def _cli_profile(name: str, path: str) -> CredentialsProvider:
    def build() -> Any:
        from alibabacloud_credentials.provider import CLIProfileCredentialsProvider  # noqa: PLC0415

        return CLIProfileCredentialsProvider(profile_name=name, profile_file=path)

    return AliyunCredentialsProvider(build, name=f"aliyun CLI config {path} profile {name!r}")


def _ini_profile(name: str, path: str) -> CredentialsProvider:
    def build() -> Any:
        from alibabacloud_credentials.provider import ProfileCredentialsProvider  # noqa: PLC0415

        return ProfileCredentialsProvider(profile_name=name, profile_file=path)

    return AliyunCredentialsProvider(build, name=f"credentials file {path} section [{name}]")


class _NotTried:
    """A source of the chain that was not tried, and why: its line in "no credentials"."""

    def __init__(self, why: str) -> None:
        self._why = why

    async def get_credentials(self) -> Credentials:
        raise CredentialsNotFoundError(self._why)

    def __repr__(self) -> str:
        return "NotTried()"  # not a source: nothing of it is in the chain's repr


def _library_step(name: str, build: Callable[[], Any], *, absent_ok: bool) -> CredentialsProvider:
    return AliyunCredentialsProvider(build, name=name, absent_is_not_found=absent_ok)


def default_credentials_provider(
    *, environ: Mapping[str, str] | None = None, profile: str | None = None
) -> CredentialsProvider:
    """The default chain of docs/schedulerx-api.md §5, first source with credentials wins:

    1. ``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``_SECRET`` / ``_SECURITY_TOKEN``;
    2. OIDC role (RRSA), when ``ALIBABA_CLOUD_ROLE_ARN``, ``..._OIDC_PROVIDER_ARN`` and
       ``..._OIDC_TOKEN_FILE`` are all set (needs the extra);
    3. the aliyun CLI ``~/.aliyun/config.json`` (``ALIBABA_CLOUD_CLI_PROFILE_DISABLED``);
    4. the INI file ``~/.alibabacloud/credentials.ini`` (``ALIBABA_CLOUD_CREDENTIALS_FILE``);
    5. the ECS instance RAM role (extra installed, ``ALIBABA_CLOUD_ECS_METADATA_DISABLED``
       not ``true``);
    6. ``ALIBABA_CLOUD_CREDENTIALS_URI`` when set (needs the extra).

    ``ALIBABA_CLOUD_PROFILE`` picks the profile in 3 and the section in 4.

    Args:
        environ: the variables to read (default `os.environ`), for tests and embedding.
        profile: a profile chosen on purpose (``--profile``, as ``aliyun --profile``): only
            that profile of 3, then that section of 4, is used, never the environment's
            keys or a role of the machine (another account's keys, silently).
    """
    env = os.environ if environ is None else environ
    extra = aliyun_credentials_available()
    if profile is not None:
        return ChainCredentialsProvider(
            CliConfigCredentialsProvider(
                environ=env, profile=profile, delegate=_cli_profile if extra else None
            ),
            IniFileCredentialsProvider(
                environ=env, profile=profile, delegate=_ini_profile if extra else None
            ),
        )
    providers: list[CredentialsProvider] = [EnvironmentCredentialsProvider(env)]
    if all(env.get(var) for var in _OIDC_VARS):

        def oidc() -> Any:
            from alibabacloud_credentials.provider import OIDCRoleArnCredentialsProvider  # noqa: PLC0415

            return OIDCRoleArnCredentialsProvider(
                role_arn=env["ALIBABA_CLOUD_ROLE_ARN"],
                oidc_provider_arn=env["ALIBABA_CLOUD_OIDC_PROVIDER_ARN"],
                oidc_token_file_path=env["ALIBABA_CLOUD_OIDC_TOKEN_FILE"],
                role_session_name=env.get("ALIBABA_CLOUD_ROLE_SESSION_NAME") or None,
            )

        # Fully configured: a failure here is an error to report, not a reason to fall back.
        providers.append(_library_step("OIDC role (ALIBABA_CLOUD_ROLE_ARN)", oidc, absent_ok=False))
    providers.append(
        CliConfigCredentialsProvider(environ=env, delegate=_cli_profile if extra else None)
    )
    providers.append(
        IniFileCredentialsProvider(environ=env, delegate=_ini_profile if extra else None)
    )
    if not extra:
        providers.append(_NotTried(f"ECS instance RAM role, OIDC: not tried; {EXTRA_HINT}"))
    elif (env.get("ALIBABA_CLOUD_ECS_METADATA_DISABLED") or "").lower() == "true":
        providers.append(
            _NotTried("ECS instance RAM role: not tried (ALIBABA_CLOUD_ECS_METADATA_DISABLED=true)")
        )
    else:

        def ecs() -> Any:
            from alibabacloud_credentials.provider import EcsRamRoleCredentialsProvider  # noqa: PLC0415

            return EcsRamRoleCredentialsProvider(
                role_name=env.get("ALIBABA_CLOUD_ECS_METADATA") or None
            )

        providers.append(_library_step("ECS instance RAM role", ecs, absent_ok=True))
    if env.get("ALIBABA_CLOUD_CREDENTIALS_URI"):

        def uri() -> Any:
            from alibabacloud_credentials.provider import URLCredentialsProvider  # noqa: PLC0415

            return URLCredentialsProvider(uri=env["ALIBABA_CLOUD_CREDENTIALS_URI"])

        providers.append(_library_step("ALIBABA_CLOUD_CREDENTIALS_URI", uri, absent_ok=False))
    return ChainCredentialsProvider(*providers)
