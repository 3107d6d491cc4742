"""`rerun_orchestrator.testing`: the fixtures a user gets from our pytest plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_schedulerx220190430 import models
from alibabacloud_schedulerx220190430.client import Client
from alibabacloud_tea_openapi import models as open_api_models
from darabonba.runtime import RuntimeOptions

from rerun_orchestrator import testing
from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator.simulator import CredentialSpec, JobSpec, SimulatorConfig


@pytest.fixture
def schedulerx_simulator_config() -> SimulatorConfig:
    # Overriding the plugin's fixture, as a user's conftest.py would.
    return SimulatorConfig(
        credentials=(CredentialSpec("fixture-id", "fixture-secret"),),
        jobs=(JobSpec("cn-beijing", "ns", "grp", ((77, 77),)),),
    )


def rerun_77(endpoint: str) -> Any:
    client = Client(
        open_api_models.Config(
            access_key_id="fixture-id",
            access_key_secret="fixture-secret",
            endpoint=endpoint,
            protocol="http",
            region_id="cn-beijing",
        )
    )
    request = models.RerunJobRequest(
        region_id="cn-beijing",
        namespace="ns",
        group_id="grp",
        job_id=77,
        start_date=1_704_038_400_000,
        end_date=1_704_038_400_000,
        data_time="01:00:00",
    )
    return client.rerun_job_with_options(request, RuntimeOptions())


@pytest.mark.asyncio
async def test_async_fixture_uses_the_overridden_config(
    schedulerx_simulator: testing.SimulatorHandle, raw: Any
) -> None:
    handle = schedulerx_simulator
    assert handle.url.startswith("http://127.0.0.1:")
    assert handle.endpoint == handle.url.removeprefix("http://")
    assert handle.credentials.access_key_id == "fixture-id"
    assert handle.config.jobs[0].job_ids == ((77, 77),)
    client = raw(handle.simulator, key_id="fixture-id", secret="fixture-secret")
    reply = await client.v3(
        "GetJobInfo",
        {"RegionId": "cn-beijing", "Namespace": "ns", "GroupId": "grp", "JobId": "77"},
        method="GET",
    )
    assert reply.json()["Data"]["JobConfigInfo"]["JobId"] == 77


def test_sync_fixture_serves_a_blocking_client(
    schedulerx_simulator_sync: testing.SimulatorHandle,
) -> None:
    handle = schedulerx_simulator_sync
    body = rerun_77(handle.endpoint).body
    assert body.success is True
    [call] = handle.calls()
    assert (call["job_id"], call["request_id"]) == (77, body.request_id)
    assert [i["data_time"] for i in handle.simulator.instances(77)] == ["2024-01-01 01:00:00"]
    handle.simulator.reset()
    assert handle.calls() == []


def test_fake_clock_is_re_exported() -> None:
    assert testing.FakeClock is FakeClock
    assert set(testing.__all__) >= {"FakeClock", "SimulatorHandle"}


@pytest.mark.slow
def test_a_users_project_gets_the_fixtures_from_the_entry_point(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import pytest
            import aiohttp

            @pytest.mark.asyncio
            async def test_async(schedulerx_simulator):
                async with aiohttp.ClientSession() as session:
                    async with session.get(schedulerx_simulator.url + "/_simulator/calls") as resp:
                        assert await resp.json() == []
                assert schedulerx_simulator.credentials.access_key_id == "testid"

            def test_sync(schedulerx_simulator_sync):
                assert schedulerx_simulator_sync.calls() == []
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_PROXY": "127.0.0.1"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
