"""A security token the server refuses is dropped from the cache before the next attempt."""

from __future__ import annotations

import pytest

from rerun_orchestrator.schedulerx import (
    Credentials,
    RefreshingCredentialsProvider,
    RerunJobParams,
    SchedulerXClient,
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
