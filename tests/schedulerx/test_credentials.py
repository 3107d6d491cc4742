"""Credential sources, the default chain, refreshing, and the official-library adapter.

Every test reads a temporary HOME and an explicit environment dict: nothing touches the
real user's files, and nothing reaches a metadata service (ECS lookups are disabled).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_credentials.client import Client as SdkClient
from alibabacloud_credentials.exceptions import CredentialException
from alibabacloud_credentials.models import Config as SdkConfig
from alibabacloud_credentials.provider import StaticSTSCredentialsProvider
from structlog.testing import capture_logs

from rerun_orchestrator.schedulerx import (
    AliyunCredentialsProvider,
    ChainCredentialsProvider,
    CliConfigCredentialsProvider,
    Credentials,
    CredentialsError,
    CredentialsNotFoundError,
    EnvironmentCredentialsProvider,
    IniFileCredentialsProvider,
    RefreshingCredentialsProvider,
    StaticCredentialsProvider,
    default_credentials_provider,
)
from rerun_orchestrator.schedulerx import _aliyun as aliyun_module

SECRET = "CANARY-SECRET-8d1f"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def env(home: Path, **values: str) -> dict[str, str]:
    return {"HOME": str(home), "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true", **values}


def write_cli_config(home: Path, profiles: list[dict[str, Any]], current: str = "default") -> Path:
    path = home / ".aliyun" / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"current": current, "profiles": profiles}))
    return path


def write_ini(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def default_ini(home: Path) -> Path:
    return home / ".alibabacloud" / "credentials.ini"


# Environment ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_environment_keys_and_sts(home: Path) -> None:
    plain = EnvironmentCredentialsProvider(
        env(home, ALIBABA_CLOUD_ACCESS_KEY_ID="id1", ALIBABA_CLOUD_ACCESS_KEY_SECRET=SECRET)
    )
    assert await plain.get_credentials() == Credentials("id1", SECRET)
    sts = EnvironmentCredentialsProvider(
        env(
            home,
            ALIBABA_CLOUD_ACCESS_KEY_ID="id1",
            ALIBABA_CLOUD_ACCESS_KEY_SECRET=SECRET,
            ALIBABA_CLOUD_SECURITY_TOKEN="tok",
        )
    )
    assert (await sts.get_credentials()).security_token == "tok"


@pytest.mark.asyncio
async def test_environment_absent_or_half_set(home: Path) -> None:
    with pytest.raises(CredentialsNotFoundError, match="not set"):
        await EnvironmentCredentialsProvider(env(home)).get_credentials()
    half = EnvironmentCredentialsProvider(env(home, ALIBABA_CLOUD_ACCESS_KEY_SECRET=SECRET))
    with pytest.raises(CredentialsError) as info:
        await half.get_credentials()
    assert not isinstance(info.value, CredentialsNotFoundError)
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in str(info.value)
    assert SECRET not in str(info.value)


# aliyun CLI config.json -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_cli_config_profiles(home: Path) -> None:
    write_cli_config(
        home,
        [
            {"name": "default", "mode": "AK", "access_key_id": "ak1", "access_key_secret": SECRET},
            {
                "name": "sts",
                "mode": "StsToken",
                "access_key_id": "ak2",
                "access_key_secret": "s2",
                "sts_token": "t2",
            },
        ],
    )
    current = CliConfigCredentialsProvider(environ=env(home))
    assert await current.get_credentials() == Credentials("ak1", SECRET)
    by_env = CliConfigCredentialsProvider(environ=env(home, ALIBABA_CLOUD_PROFILE="sts"))
    assert await by_env.get_credentials() == Credentials("ak2", "s2", "t2")
    by_arg = CliConfigCredentialsProvider(
        profile="sts", environ=env(home, ALIBABA_CLOUD_PROFILE="x")
    )
    assert (await by_arg.get_credentials()).access_key_id == "ak2"


@pytest.mark.asyncio
async def test_cli_config_absences_are_not_found(home: Path) -> None:
    with pytest.raises(CredentialsNotFoundError, match="no such file"):
        await CliConfigCredentialsProvider(environ=env(home)).get_credentials()
    write_cli_config(
        home, [{"name": "default", "mode": "AK", "access_key_id": "a", "access_key_secret": "b"}]
    )
    with pytest.raises(CredentialsNotFoundError, match="no profile 'other'"):
        await CliConfigCredentialsProvider(
            environ=env(home, ALIBABA_CLOUD_PROFILE="other")
        ).get_credentials()
    disabled = env(home, ALIBABA_CLOUD_CLI_PROFILE_DISABLED="true")
    with pytest.raises(CredentialsNotFoundError, match="disabled"):
        await CliConfigCredentialsProvider(environ=disabled).get_credentials()


@pytest.mark.asyncio
async def test_cli_config_broken_profiles_are_errors(home: Path) -> None:
    write_cli_config(
        home,
        [
            {
                "name": "default",
                "mode": "StsToken",
                "access_key_id": "a",
                "access_key_secret": SECRET,
            }
        ],
    )
    with pytest.raises(CredentialsError) as info:
        await CliConfigCredentialsProvider(environ=env(home)).get_credentials()
    assert not isinstance(info.value, CredentialsNotFoundError)
    assert "sts_token" in str(info.value)
    assert "'default'" in str(info.value)
    assert SECRET not in str(info.value)
    (home / ".aliyun" / "config.json").write_text("{not json")
    with pytest.raises(CredentialsError, match="not valid JSON"):
        await CliConfigCredentialsProvider(environ=env(home)).get_credentials()


@pytest.mark.asyncio
async def test_cli_config_other_modes_need_the_library(home: Path) -> None:
    path = write_cli_config(
        home, [{"name": "default", "mode": "RamRoleArn", "ram_role_arn": "acs:ram::1:role/x"}]
    )
    with pytest.raises(CredentialsError, match=r"aliyun-credentials"):
        await CliConfigCredentialsProvider(environ=env(home)).get_credentials()
    calls: list[tuple[str, str]] = []

    def delegate(name: str, file: str) -> StaticCredentialsProvider:
        calls.append((name, file))
        return StaticCredentialsProvider(Credentials("role-id", "role-secret", "role-token"))

    provider = CliConfigCredentialsProvider(environ=env(home), delegate=delegate)
    assert (await provider.get_credentials()).security_token == "role-token"
    assert calls == [("default", str(path))]


@pytest.mark.asyncio
async def test_cli_config_external_mode_through_the_official_library(home: Path) -> None:
    script = home / "print_creds.py"
    answer = {
        "mode": "StsToken",
        "access_key_id": "ext-id",
        "access_key_secret": SECRET,
        "sts_token": "ext-tok",
    }
    script.write_text(f"import json; print(json.dumps({answer!r}))")
    write_cli_config(
        home,
        [{"name": "default", "mode": "External", "process_command": f"{sys.executable} {script}"}],
    )
    provider = default_credentials_provider(environ=env(home))
    assert await provider.get_credentials() == Credentials("ext-id", SECRET, "ext-tok")


# INI credentials file ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_ini_sections(home: Path) -> None:
    write_ini(
        default_ini(home),
        "[default]\ntype = access_key\naccess_key_id = ini1\n"
        f"access_key_secret = {SECRET}  # prod\n"
        "[other]\naccess_key_id = ini2\naccess_key_secret = s2\n",
    )
    assert await IniFileCredentialsProvider(environ=env(home)).get_credentials() == Credentials(
        "ini1", SECRET
    )
    other = IniFileCredentialsProvider(environ=env(home, ALIBABA_CLOUD_PROFILE="other"))
    assert await other.get_credentials() == Credentials("ini2", "s2")
    with pytest.raises(CredentialsNotFoundError, match=r"no section \[nope\]"):
        await IniFileCredentialsProvider(profile="nope", environ=env(home)).get_credentials()


@pytest.mark.asyncio
async def test_ini_file_location(home: Path) -> None:
    with pytest.raises(CredentialsNotFoundError, match="no such file"):
        await IniFileCredentialsProvider(environ=env(home)).get_credentials()
    named = env(home, ALIBABA_CLOUD_CREDENTIALS_FILE=str(home / "missing.ini"))
    with pytest.raises(CredentialsError) as info:
        await IniFileCredentialsProvider(environ=named).get_credentials()
    assert not isinstance(info.value, CredentialsNotFoundError)  # named explicitly: a mistake
    custom = write_ini(
        home / "custom.ini", "[default]\naccess_key_id = c1\naccess_key_secret = c2\n"
    )
    by_env = IniFileCredentialsProvider(
        environ=env(home, ALIBABA_CLOUD_CREDENTIALS_FILE=str(custom))
    )
    assert (await by_env.get_credentials()).access_key_id == "c1"


@pytest.mark.asyncio
async def test_ini_incomplete_and_other_types(home: Path) -> None:
    write_ini(default_ini(home), "[default]\ntype = access_key\naccess_key_id = x\n")
    with pytest.raises(CredentialsError, match="access_key_secret"):
        await IniFileCredentialsProvider(environ=env(home)).get_credentials()
    write_ini(default_ini(home), "[default]\ntype = ram_role_arn\nrole_arn = acs:ram::1:role/r\n")
    with pytest.raises(CredentialsError, match="ram_role_arn"):
        await IniFileCredentialsProvider(environ=env(home)).get_credentials()
    delegated = IniFileCredentialsProvider(
        environ=env(home),
        delegate=lambda name, path: StaticCredentialsProvider(Credentials(name, path)),
    )
    assert (await delegated.get_credentials()).access_key_id == "default"


# The default chain ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_default_chain_order(home: Path) -> None:
    write_ini(default_ini(home), "[default]\naccess_key_id = from-ini\naccess_key_secret = s\n")
    assert (
        await default_credentials_provider(environ=env(home)).get_credentials()
    ).access_key_id == "from-ini"
    write_cli_config(
        home,
        [{"name": "default", "mode": "AK", "access_key_id": "from-cli", "access_key_secret": "s"}],
    )
    assert (
        await default_credentials_provider(environ=env(home)).get_credentials()
    ).access_key_id == "from-cli"
    skip_cli = env(home, ALIBABA_CLOUD_CLI_PROFILE_DISABLED="true")
    assert (
        await default_credentials_provider(environ=skip_cli).get_credentials()
    ).access_key_id == "from-ini"
    with_env = env(
        home, ALIBABA_CLOUD_ACCESS_KEY_ID="from-env", ALIBABA_CLOUD_ACCESS_KEY_SECRET="s"
    )
    assert (
        await default_credentials_provider(environ=with_env).get_credentials()
    ).access_key_id == "from-env"


@pytest.mark.asyncio
async def test_default_chain_profile_falls_through_to_the_ini_file(home: Path) -> None:
    write_cli_config(
        home, [{"name": "default", "mode": "AK", "access_key_id": "cli", "access_key_secret": "s"}]
    )
    write_ini(default_ini(home), "[prod]\naccess_key_id = ini-prod\naccess_key_secret = s\n")
    chain = default_credentials_provider(environ=env(home, ALIBABA_CLOUD_PROFILE="prod"))
    assert (await chain.get_credentials()).access_key_id == "ini-prod"


@pytest.mark.asyncio
async def test_default_chain_reports_every_source(home: Path) -> None:
    with pytest.raises(CredentialsNotFoundError) as info:
        await default_credentials_provider(environ=env(home)).get_credentials()
    message = str(info.value)
    assert "environment" in message
    assert "config.json" in message
    assert "credentials.ini" in message


@pytest.mark.asyncio
async def test_a_half_configured_source_stops_the_chain(home: Path) -> None:
    write_cli_config(
        home,
        [
            {
                "name": "default",
                "mode": "AK",
                "access_key_id": "other-account",
                "access_key_secret": "s",
            }
        ],
    )
    half = env(home, ALIBABA_CLOUD_ACCESS_KEY_ID="mine")
    with pytest.raises(CredentialsError, match="ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        await default_credentials_provider(environ=half).get_credentials()


def test_default_chain_includes_oidc_only_when_fully_configured(home: Path) -> None:
    oidc = {
        "ALIBABA_CLOUD_ROLE_ARN": "acs:ram::1:role/r",
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": "acs:ram::1:oidc-provider/p",
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE": str(home / "token"),
    }
    assert "OIDC" in repr(default_credentials_provider(environ=env(home, **oidc)))
    partial = {k: v for k, v in oidc.items() if k != "ALIBABA_CLOUD_OIDC_TOKEN_FILE"}
    assert "OIDC" not in repr(default_credentials_provider(environ=env(home, **partial)))
    with_ecs = {"HOME": str(home)}
    assert "ECS" in repr(default_credentials_provider(environ=with_ecs))
    assert "ECS" not in repr(default_credentials_provider(environ=env(home)))


@pytest.mark.asyncio
async def test_chain_reuses_the_winner() -> None:
    calls: list[str] = []

    class Counting:
        def __init__(self, name: str, found: bool) -> None:
            self.name, self.found = name, found

        async def get_credentials(self) -> Credentials:
            calls.append(self.name)
            if not self.found:
                raise CredentialsNotFoundError(f"{self.name}: nothing")
            return Credentials(self.name, "s")

    chain = ChainCredentialsProvider(Counting("a", False), Counting("b", True), Counting("c", True))
    assert (await chain.get_credentials()).access_key_id == "b"
    assert (await chain.get_credentials()).access_key_id == "b"
    assert calls == ["a", "b", "b"]


# The official-library adapter ------------------------------------------------------------


@pytest.mark.asyncio
async def test_adapter_over_a_library_provider_and_client() -> None:
    provider = AliyunCredentialsProvider(
        StaticSTSCredentialsProvider(
            access_key_id="i", access_key_secret=SECRET, security_token="t"
        )
    )
    assert await provider.get_credentials() == Credentials("i", SECRET, "t")
    client = SdkClient(SdkConfig(type="access_key", access_key_id="i2", access_key_secret=SECRET))
    assert await AliyunCredentialsProvider(client).get_credentials() == Credentials("i2", SECRET)
    built: list[int] = []

    def lazy() -> Any:
        built.append(1)
        return StaticSTSCredentialsProvider(
            access_key_id="i3", access_key_secret="s", security_token="t"
        )

    lazy_provider = AliyunCredentialsProvider(lazy)
    assert built == []
    await lazy_provider.get_credentials()
    await lazy_provider.get_credentials()
    assert built == [1]


@pytest.mark.asyncio
async def test_adapter_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    class Failing:
        async def get_credentials_async(self) -> Any:
            raise CredentialException(
                "Failed to get RAM session credentials from ECS metadata service."
            )

    with pytest.raises(CredentialsError, match="ECS metadata") as hard:
        await AliyunCredentialsProvider(Failing(), name="ecs").get_credentials()
    assert not isinstance(hard.value, CredentialsNotFoundError)
    with pytest.raises(CredentialsNotFoundError, match=r"^ecs: CredentialException"):
        await AliyunCredentialsProvider(
            Failing(), name="ecs", absent_is_not_found=True
        ).get_credentials()
    monkeypatch.setattr(aliyun_module, "aliyun_credentials_available", lambda: False)
    with pytest.raises(CredentialsError, match=r"rerun-orchestrator\[aliyun-credentials\]"):
        await AliyunCredentialsProvider().get_credentials()


# Refreshing -------------------------------------------------------------------------------


class Rotating:
    """Hands out credentials that expire `ttl` seconds after they are issued."""

    def __init__(self, clock: Any, ttl: float = 1000.0) -> None:
        self.clock, self.ttl, self.issued, self.fail = clock, ttl, 0, False

    async def get_credentials(self) -> Credentials:
        await asyncio.sleep(0)
        if self.fail:
            raise CredentialsError("sts broker: unavailable")
        self.issued += 1
        return Credentials(f"id{self.issued}", "s", "t", self.clock.wall() + self.ttl)


@pytest.mark.asyncio
async def test_refreshes_before_expiry(clock: Any) -> None:
    source = Rotating(clock)
    provider = RefreshingCredentialsProvider(source, clock=clock, refresh_before=300)
    assert (await provider.get_credentials()).access_key_id == "id1"
    clock.advance(699)
    assert (await provider.get_credentials()).access_key_id == "id1"
    clock.advance(2)  # 299 s of validity left: inside the margin
    assert (await provider.get_credentials()).access_key_id == "id2"
    assert source.issued == 2


@pytest.mark.asyncio
async def test_one_refresh_for_many_waiters(clock: Any) -> None:
    source = Rotating(clock)
    provider = RefreshingCredentialsProvider(source, clock=clock)
    results = await asyncio.gather(*(provider.get_credentials() for _ in range(20)))
    assert {c.access_key_id for c in results} == {"id1"}
    assert source.issued == 1


@pytest.mark.asyncio
async def test_failed_refresh_keeps_valid_credentials_then_raises(clock: Any) -> None:
    source = Rotating(clock)
    provider = RefreshingCredentialsProvider(source, clock=clock, refresh_before=300)
    await provider.get_credentials()
    source.fail = True
    clock.advance(800)
    with capture_logs() as logs:
        assert (await provider.get_credentials()).access_key_id == "id1"
    assert logs == [
        {
            "event": "schedulerx.credentials.refresh_failed",
            "log_level": "warning",
            "source": repr(source),
            "error": "sts broker: unavailable",
            "expires_in_s": 200.0,
        }
    ]
    clock.advance(201)
    with pytest.raises(CredentialsError, match="unavailable"):
        await provider.get_credentials()


@pytest.mark.asyncio
async def test_non_expiring_credentials_are_fetched_once(clock: Any) -> None:
    calls: list[int] = []

    class Once:
        async def get_credentials(self) -> Credentials:
            calls.append(1)
            return Credentials("a", "b")

    provider = RefreshingCredentialsProvider(Once(), clock=clock)
    for _ in range(3):
        clock.advance(10**6)
        await provider.get_credentials()
    assert calls == [1]
