"""A security token the server refuses is dropped from the cache before the next attempt."""

from __future__ import annotations

import pytest

from rerun_orchestrator.schedulerx import (
    ChainCredentialsProvider,
    Credentials,
    EnvironmentCredentialsProvider,
    InvalidatableCredentials,
    RefreshingCredentialsProvider,
    RerunJobParams,
    SchedulerXClient,
    Scope,
    Verdict,
)
from rerun_orchestrator.simulator import CredentialSpec, JobSpec, Simulator, SimulatorConfig

PARAMS = RerunJobParams(
    region="cn-hangzhou",
    namespace="ns-1",
    group_id="g1",
    job_id=1,
    start_date=1704038400000,
    end_date=1704038400000,
    data_time="10:00:00",
)


class _Rotating:
    """An STS broker that hands out a stale token first, then the current one."""

    def __init__(self) -> None:
        self.tokens = ["stale-token", "current-token"]
        self.calls = 0

    async def get_credentials(self) -> Credentials:
        token = self.tokens[min(self.calls, len(self.tokens) - 1)]
        self.calls += 1
        return Credentials("sts-key", "sts-secret", token, expires_at=4_000_000_000.0)


@pytest.mark.asyncio
async def test_a_refused_token_is_refetched_for_the_next_attempt() -> None:
    config = SimulatorConfig(
        credentials=(CredentialSpec("sts-key", "sts-secret", security_token="current-token"),),
        jobs=(JobSpec("cn-hangzhou", "ns-1", "g1", ((1, 1),)),),
        quota={"RerunJob": None},
    )
    broker = _Rotating()
    async with (
        Simulator(config) as sim,
        SchedulerXClient(RefreshingCredentialsProvider(broker), endpoint=sim.url) as client,
    ):
        first = await client.rerun_job(PARAMS)
        second = await client.rerun_job(PARAMS)

    assert isinstance(first.code, str)
    assert first.code.startswith("InvalidSecurityToken")
    assert second.verdict is Verdict.SUCCEEDED
    assert broker.calls == 2  # without invalidation the cached stale token would be reused


class _CountingSource:
    """A cached credentials source that implements the optional invalidation protocol."""

    def __init__(self) -> None:
        self.broker = _Rotating()
        self.cached: Credentials | None = None
        self.invalidated = 0

    async def get_credentials(self) -> Credentials:
        if self.cached is None:
            self.cached = await self.broker.get_credentials()
        return self.cached

    def invalidate(self) -> None:
        self.invalidated += 1
        self.cached = None


@pytest.mark.asyncio
async def test_the_chain_forwards_invalidation_to_the_source_that_won() -> None:
    """Without wrapping by the embedder: the chain is what the CLI hands the client."""
    config = SimulatorConfig(
        credentials=(CredentialSpec("sts-key", "sts-secret", security_token="current-token"),),
        jobs=(JobSpec("cn-hangzhou", "ns-1", "g1", ((1, 1),)),),
        quota={"RerunJob": None},
    )
    source = _CountingSource()
    empty = EnvironmentCredentialsProvider({})
    chain = ChainCredentialsProvider(empty, source)
    assert isinstance(chain, InvalidatableCredentials)
    async with Simulator(config) as sim, SchedulerXClient(chain, endpoint=sim.url) as client:
        first = await client.rerun_job(PARAMS)
        second = await client.rerun_job(PARAMS)
    assert first.code == "InvalidSecurityToken.MismatchWithAccessKey"
    assert second.verdict is Verdict.SUCCEEDED
    assert (source.invalidated, source.broker.calls) == (1, 2)


@pytest.mark.asyncio
async def test_a_missing_token_refreshes_the_credentials_too() -> None:
    config = SimulatorConfig(
        credentials=(CredentialSpec("sts-key", "sts-secret", security_token="current-token"),),
        jobs=(JobSpec("cn-hangzhou", "ns-1", "g1", ((1, 1),)),),
        quota={"RerunJob": None},
    )
    source = _CountingSource()
    source.broker.tokens = ["", "current-token"]  # a broker that forgot the token once
    async with Simulator(config) as sim, SchedulerXClient(source, endpoint=sim.url) as client:
        first = await client.rerun_job(PARAMS)
        second = await client.rerun_job(PARAMS)
    assert (first.code, first.scope) == ("MissingSecurityToken", Scope.RUN)
    assert second.verdict is Verdict.SUCCEEDED
    assert source.invalidated == 1


@pytest.mark.asyncio
async def test_environment_credentials_are_built_once_until_a_variable_changes() -> None:
    environ = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "id", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s1"}
    provider = EnvironmentCredentialsProvider(environ)
    first = await provider.get_credentials()
    assert await provider.get_credentials() is first  # nothing rebuilt on the hot path
    environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = "s2"
    rotated = await provider.get_credentials()
    assert rotated is not first
    assert rotated.access_key_secret == "s2"
    provider.invalidate()
    assert await provider.get_credentials() is not rotated
