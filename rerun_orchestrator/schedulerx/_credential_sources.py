"""Credentials from where the official tools keep them: variables, the CLI config, the INI file.

Names, paths and precedence are those of ``alibabacloud-credentials`` 1.0.12
(docs/schedulerx-api.md §5), so a machine set up for the ``aliyun`` CLI or the SDK works
unchanged. Static key pairs and STS tokens are read here; profile types that need a network
exchange (RAM role, ECS role, OIDC, SSO) are delegated to the official library through
`AliyunCredentialsProvider` when the ``aliyun-credentials`` extra is installed.

Every error names the source, the file, the profile and the missing key, never a value. A
source that is absent raises `CredentialsNotFoundError` (the chain moves on); one that is
present but incomplete raises `CredentialsError` (the chain stops).
"""

from __future__ import annotations

import configparser
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import anyio

from ._credentials import Credentials, CredentialsProvider, forward_invalidate
from ._errors import CredentialsError, CredentialsNotFoundError

ENV_ACCESS_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_ACCESS_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"  # noqa: S105 - a variable name
ENV_SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"  # noqa: S105 - a variable name
ENV_PROFILE = "ALIBABA_CLOUD_PROFILE"
ENV_CREDENTIALS_FILE = "ALIBABA_CLOUD_CREDENTIALS_FILE"
ENV_CLI_PROFILE_DISABLED = "ALIBABA_CLOUD_CLI_PROFILE_DISABLED"


def _home(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME") or environ.get("USERPROFILE")
    return Path(home) if home else Path.home()


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _delegate(
    kind: str, where: str, make: Callable[[], CredentialsProvider] | None
) -> CredentialsProvider:
    if make is None:
        raise CredentialsError(
            f"{where}: type {kind!r} needs the official credentials library; install "
            "'rerun-orchestrator[aliyun-credentials]' or use an AccessKey/STS profile"
        )
    return make()


class EnvironmentCredentialsProvider:
    """``ALIBABA_CLOUD_ACCESS_KEY_ID`` + ``..._SECRET`` (+ ``..._SECURITY_TOKEN`` for STS).

    Args:
        environ: the variables to read (default `os.environ`, read on every call).
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        # The variables as last read, and what they made: reused until one of them changes,
        # so the hot path (once per attempt) does three lookups and builds nothing.
        self._seen: tuple[str | None, str | None, str | None] | None = None
        self._cached: Credentials | None = None

    async def get_credentials(self) -> Credentials:
        environ = self._environ
        seen = (
            environ.get(ENV_ACCESS_KEY_ID),
            environ.get(ENV_ACCESS_KEY_SECRET),
            environ.get(ENV_SECURITY_TOKEN),
        )
        if seen == self._seen and self._cached is not None:
            return self._cached
        key_id, secret, token = ((value or "").strip() for value in seen)
        if not key_id and not secret:
            raise CredentialsNotFoundError(
                f"environment: {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET} are not set"
            )
        if not key_id or not secret:
            missing = ENV_ACCESS_KEY_ID if not key_id else ENV_ACCESS_KEY_SECRET
            raise CredentialsError(f"environment: {missing} is not set (its pair is)")
        self._cached = Credentials(key_id, secret, token or None)
        self._seen = seen
        return self._cached

    def invalidate(self) -> None:
        """Build the credentials afresh from the variables on the next call."""
        self._seen = self._cached = None

    def __repr__(self) -> str:
        return "EnvironmentCredentialsProvider()"


class _FileSource:
    """A credentials file, read once: its static keys, or the provider its profile names."""

    _path: Path
    _resolved: CredentialsProvider | Credentials | None = None

    async def get_credentials(self) -> Credentials:
        if self._resolved is None:
            self._resolved = await self._load()
        if isinstance(self._resolved, Credentials):
            return self._resolved
        return await self._resolved.get_credentials()

    async def _load(self) -> CredentialsProvider | Credentials:
        raise NotImplementedError

    def invalidate(self) -> None:
        """Read the file again on the next call (its token may have been rotated), and
        forward to the provider its profile delegated to."""
        resolved, self._resolved = self._resolved, None
        if resolved is not None and not isinstance(resolved, Credentials):
            forward_invalidate(resolved)

    async def _read(self, where: str, *, absent: type[CredentialsError]) -> str:
        """The file's text; `absent` is raised when there is no such file."""
        try:
            return await anyio.to_thread.run_sync(self._path.read_text, "utf-8")
        except FileNotFoundError:
            raise absent(f"{where}: no such file") from None
        except OSError as exc:
            raise CredentialsError(f"{where}: cannot read ({exc.strerror})") from None


class CliConfigCredentialsProvider(_FileSource):
    """A profile of the ``aliyun`` CLI's ``~/.aliyun/config.json``.

    The profile is `profile`, else ``ALIBABA_CLOUD_PROFILE``, else the file's ``current``.
    Modes ``AK`` and ``StsToken`` are read directly; other modes are delegated to the
    official library. Skipped when ``ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        profile: str | None = None,
        environ: Mapping[str, str] | None = None,
        delegate: Callable[[str, str], CredentialsProvider] | None = None,
    ) -> None:
        self._environ = os.environ if environ is None else environ
        self._path = Path(path) if path else _home(self._environ) / ".aliyun" / "config.json"
        self._profile = profile
        self._delegate = delegate  # (profile name, file path) -> provider, for other modes

    async def get_credentials(self) -> Credentials:
        if _is_true(self._environ.get(ENV_CLI_PROFILE_DISABLED)):
            raise CredentialsNotFoundError(
                f"aliyun CLI config: disabled by {ENV_CLI_PROFILE_DISABLED}"
            )
        return await super().get_credentials()

    async def _load(self) -> CredentialsProvider | Credentials:
        where = f"aliyun CLI config {self._path}"
        text = await self._read(where, absent=CredentialsNotFoundError)
        try:
            config = json.loads(text)
        except ValueError:
            raise CredentialsError(f"{where}: not valid JSON") from None
        if not isinstance(config, dict):
            raise CredentialsError(f"{where}: not a JSON object")
        name = self._profile or self._environ.get(ENV_PROFILE) or config.get("current")
        if not name:
            raise CredentialsNotFoundError(f"{where}: no profile selected and no 'current'")
        profiles = config.get("profiles") or []
        profile = next((p for p in profiles if isinstance(p, dict) and p.get("name") == name), None)
        if profile is None:
            raise CredentialsNotFoundError(f"{where}: no profile {name!r}")
        where = f"{where} profile {name!r}"
        mode = profile.get("mode") or "AK"
        if mode not in ("AK", "StsToken"):
            delegate, path = self._delegate, str(self._path)
            make = (lambda: delegate(name, path)) if delegate else None
            return _delegate(mode, where, make)
        keys = ("access_key_id", "access_key_secret") + (
            ("sts_token",) if mode == "StsToken" else ()
        )
        values = {key: str(profile.get(key) or "").strip() for key in keys}
        missing = [key for key, value in values.items() if not value]
        if missing:
            raise CredentialsError(f"{where}: mode {mode} is missing {', '.join(missing)}")
        return Credentials(
            values["access_key_id"], values["access_key_secret"], values.get("sts_token")
        )

    def __repr__(self) -> str:
        return f"CliConfigCredentialsProvider(path={str(self._path)!r}, profile={self._profile!r})"


class IniFileCredentialsProvider(_FileSource):
    """A section of the INI credentials file (``~/.alibabacloud/credentials.ini``).

    The file is `path`, else ``ALIBABA_CLOUD_CREDENTIALS_FILE``, else the default; the
    section is `profile`, else ``ALIBABA_CLOUD_PROFILE``, else ``default``. Type
    ``access_key`` is read directly; other types are delegated to the official library.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        profile: str | None = None,
        environ: Mapping[str, str] | None = None,
        delegate: Callable[[str, str], CredentialsProvider] | None = None,
    ) -> None:
        self._environ = os.environ if environ is None else environ
        explicit = path or self._environ.get(ENV_CREDENTIALS_FILE)
        self._explicit = bool(explicit)
        default = _home(self._environ) / ".alibabacloud" / "credentials.ini"
        self._path = Path(explicit) if explicit else default
        self._profile = profile
        self._delegate = delegate

    async def _load(self) -> CredentialsProvider | Credentials:
        where = f"credentials file {self._path}"
        # A file named explicitly that is not there is a mistake, not an absence.
        absent = CredentialsError if self._explicit else CredentialsNotFoundError
        text = await self._read(where, absent=absent)
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text)
        except configparser.Error:
            raise CredentialsError(f"{where}: not a valid INI file") from None
        name = self._profile or self._environ.get(ENV_PROFILE) or "default"
        if not parser.has_section(name):
            raise CredentialsNotFoundError(f"{where}: no section [{name}]")
        # As the official library: a '#' starts a comment anywhere in a value.
        section = {k: v.split("#", 1)[0].strip() for k, v in parser.items(name)}
        where = f"{where} section [{name}]"
        kind = section.get("type") or "access_key"
        if kind != "access_key":
            delegate, path = self._delegate, str(self._path)
            make = (lambda: delegate(name, path)) if delegate else None
            return _delegate(kind, where, make)
        missing = [k for k in ("access_key_id", "access_key_secret") if not section.get(k)]
        if missing:
            raise CredentialsError(f"{where}: type access_key is missing {', '.join(missing)}")
        return Credentials(section["access_key_id"], section["access_key_secret"])

    def __repr__(self) -> str:
        return f"IniFileCredentialsProvider(path={str(self._path)!r}, profile={self._profile!r})"
