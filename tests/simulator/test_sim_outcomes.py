"""What a watcher sees: durations with spread, seeded failures per (job, day, attempt),
RetryJobInstance on the same instance, rejection beyond concurrency, history pruned."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alibabacloud_schedulerx220190430 import models
from alibabacloud_schedulerx220190430.client import Client
from alibabacloud_tea_openapi import models as open_api_models
from darabonba.runtime import RuntimeOptions

from rerun_orchestrator.simulator import JobSpec, SimulatorConfig

pytestmark = pytest.mark.asyncio
DAY = 86_400_000
START = 1_645_459_200_000  # 2022-02-22 00:00 +08:00


def days(n: int) -> dict[str, str]:
    return {"StartDate": str(START), "EndDate": str(START + (n - 1) * DAY)}


async def test_durations_spread_and_repeat_with_the_seed(
    start_sim: Any, make_config: Any, raw: Any, params: Any, clock: Any
) -> None:
    jobs = (JobSpec("cn-hangzhou", "ns-1", "g1", ((10, 10),), max_concurrency=100),)
    config = make_config(
        jobs=jobs, instance_wait_seconds=0.0, instance_run_seconds=100.0, instance_run_spread=0.5
    )
    runs = []
    for _ in range(2):
        sim = await start_sim(config, clock=clock)
        await raw(sim, wall=clock.wall).v3("RerunJob", params.rerun(**days(30)))
        rows = sim.instances(10)
        runs.append([(r["data_time"], r["start_time"], r["end_time"]) for r in rows])
    durations = []
    for row in sim.instances(10):
        started, ended = (row[k] for k in ("start_time", "end_time"))
        durations.append(_seconds(ended) - _seconds(started))
    assert all(50 <= d <= 150 for d in durations)
    assert len(set(durations)) > 10  # spread, not one value
    assert [r[0] for r in runs[0]] == [r[0] for r in runs[1]]
    assert [_seconds(r[2]) - _seconds(r[1]) for r in runs[0]] == durations  # same seed, same


def _seconds(text: str) -> int:
    hours, minutes, seconds = text.split(" ")[1].split(":")
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds)


async def test_failures_are_drawn_per_day_and_attempt(
    start_sim: Any, make_config: Any, raw: Any, params: Any, clock: Any
) -> None:
    """15% of first attempts fail; which ones does not depend on what else was asked."""
    jobs = (JobSpec("cn-hangzhou", "ns-1", "g1", ((10, 11),), max_concurrency=1000),)
    config = make_config(
        jobs=jobs, instance_wait_seconds=0.0, instance_run_seconds=1.0, failure_rate=0.15
    )
    sim = await start_sim(config, clock=clock)
    client = raw(sim, wall=clock.wall)
    await client.v3("RerunJob", params.rerun(job_id=11, **days(5)))  # another job first
    await client.v3("RerunJob", params.rerun(**days(200)))
    clock.advance(10)
    failed_a = {r["data_time"] for r in sim.instances(10) if r["status_name"] == "failed"}
    other = await start_sim(config, clock=clock)
    await raw(other, wall=clock.wall).v3("RerunJob", params.rerun(**days(200)))
    clock.advance(10)
    failed_b = {r["data_time"] for r in other.instances(10) if r["status_name"] == "failed"}
    assert failed_a == failed_b
    assert 15 <= len(failed_a) <= 45  # 15% of 200, loosely


async def test_retry_runs_the_same_instance_again(
    start_sim: Any, make_config: Any, raw: Any, params: Any, clock: Any
) -> None:
    config = make_config(
        instance_wait_seconds=0.0,
        instance_run_seconds=5.0,
        failure_rate=1.0,
        retry_failure_rate=0.0,
    )
    sim = await start_sim(config, clock=clock)
    client = raw(sim, wall=clock.wall)
    await client.v3("RerunJob", params.rerun(**days(1)))
    [row] = sim.instances(10)
    retry = {**params.listing(), "JobInstanceId": str(row["instance_id"])}
    early = (await client.v3("RetryJobInstance", retry, in_query=True)).json()
    assert early["Success"] is False  # still running: nothing to retry
    assert "not finished" in early["Message"]
    clock.advance(6)
    assert sim.instances(10)[0]["status_name"] == "failed"
    answer = (await client.v3("RetryJobInstance", retry, in_query=True)).json()
    assert (answer["Code"], answer["Success"]) == (200, True)
    [again] = sim.instances(10)  # no new instance for the day
    assert (again["instance_id"], again["attempt"], again["status_name"]) == (
        row["instance_id"],
        2,
        "running",
    )
    clock.advance(6)
    assert sim.instances(10)[0]["status_name"] == "success"
    assert sim.retries() == [
        {
            "request_id": answer["RequestId"],
            "job_id": 10,
            "instance_id": row["instance_id"],
            "attempt": 2,
            "rejected": False,
        }
    ]
    missing = (
        await client.v3("RetryJobInstance", {**retry, "JobInstanceId": "1"}, in_query=True)
    ).json()
    assert missing["Success"] is False


@pytest.mark.parametrize("mode", ["queue", "reject"])
async def test_beyond_max_concurrency_rerun_instances_queue_or_are_rejected(
    start_sim: Any, make_config: Any, raw: Any, params: Any, clock: Any, mode: str
) -> None:
    jobs = (JobSpec("cn-hangzhou", "ns-1", "g1", ((10, 10),), max_concurrency=2),)
    config = make_config(
        jobs=jobs, instance_wait_seconds=0.0, instance_run_seconds=10.0, over_concurrency=mode
    )
    sim = await start_sim(config, clock=clock)
    client = raw(sim, wall=clock.wall)
    await client.v3("RerunJob", params.rerun(**days(5)))
    statuses = [r["status_name"] for r in sim.instances(10)]
    if mode == "queue":
        assert statuses == ["running", "running", "waiting", "waiting", "waiting"]
    else:
        assert statuses == ["running", "running", "rejected", "rejected", "rejected"]
        rows = await client.v3("GetJobInstanceList", params.listing(Status="9"), method="GET")
        assert len(rows.json()["Data"]["JobInstanceDetails"]) == 3
        # A rejected day can be retried once there is room: the same instance runs.
        clock.advance(11)
        rejected = next(r for r in sim.instances(10) if r["status_name"] == "rejected")
        retry = {**params.listing(), "JobInstanceId": str(rejected["instance_id"])}
        assert (await client.v3("RetryJobInstance", retry, in_query=True)).json()["Success"]
        again = next(r for r in sim.instances(10) if r["instance_id"] == rejected["instance_id"])
        assert again["status_name"] == "running"


async def test_group_capacity_queues_across_jobs(
    start_sim: Any, make_config: Any, raw: Any, params: Any, clock: Any
) -> None:
    jobs = (
        JobSpec("cn-hangzhou", "ns-1", "g1", ((10, 12),), max_concurrency=10, group_capacity=3),
    )
    config = make_config(jobs=jobs, instance_wait_seconds=0.0, instance_run_seconds=10.0)
    sim = await start_sim(config, clock=clock)
    client = raw(sim, wall=clock.wall)
    for job in (10, 11, 12):
        await client.v3("RerunJob", params.rerun(job_id=job, **days(2)))
    peak = 0
    for _ in range(10):
        running = [r for r in sim.instances() if r["status_name"] == "running"]
        peak = max(peak, len(running))
        assert len(running) <= 3
        clock.advance(5)
    assert peak == 3
    assert {r["status_name"] for r in sim.instances()} == {"success"}


async def test_history_is_pruned_to_the_newest_instances(
    start_sim: Any, make_config: Any, raw: Any, params: Any, clock: Any
) -> None:
    jobs = (JobSpec("cn-hangzhou", "ns-1", "g1", ((10, 10),), max_concurrency=1000),)
    config = make_config(
        jobs=jobs, instance_wait_seconds=0.0, instance_run_seconds=0.0, history_limit=50
    )
    sim = await start_sim(config, clock=clock)
    client = raw(sim, wall=clock.wall)
    await client.v3("RerunJob", params.rerun(**days(40)))
    first_ids = [r["instance_id"] for r in sim.instances(10)]
    clock.advance(1)
    await client.v3("RerunJob", params.rerun(**days(30)))
    listing = params.listing(PageSize="100")
    visible = (await client.v3("GetJobInstanceList", listing, method="GET")).json()
    seen = {row["InstanceId"] for row in visible["Data"]["JobInstanceDetails"]}
    assert len(seen) == 50
    assert not seen & set(first_ids[:20])  # the 20 oldest are gone from the API
    everything = sim.instances(10)
    assert len(everything) == 70  # ... but not from the simulator's own record
    assert sum(r["pruned"] for r in everything) == 20
    gone = {**params.listing(), "JobInstanceId": str(first_ids[0])}
    answer = (await client.v3("GetJobInstance", gone, method="GET")).json()
    assert answer["Success"] is False


async def test_history_limit_defaults_to_300(make_config: Any) -> None:
    assert make_config().history_limit == 300
    assert SimulatorConfig.from_mapping({"history_limit": None}).history_limit is None
    assert SimulatorConfig.from_mapping({"over_concurrency": "reject"}).over_concurrency == "reject"


async def test_retry_job_instance_as_the_official_sdk_sends_it(
    start_sim: Any, make_config: Any, raw: Any, params: Any, clock: Any
) -> None:
    config = make_config(instance_wait_seconds=0.0, instance_run_seconds=0.0, failure_rate=1.0)
    sim = await start_sim(config)
    await raw(sim).v3("RerunJob", params.rerun(**days(1)))
    [row] = sim.instances(10)
    for v2 in (False, True):
        sdk_config = open_api_models.Config(
            access_key_id="testid",
            access_key_secret="testsecret",
            endpoint=sim.endpoint,
            protocol="http",
            region_id="cn-hangzhou",
        )
        if v2:
            sdk_config.signature_algorithm = "v2"
        request = models.RetryJobInstanceRequest(
            region_id="cn-hangzhou",
            namespace="ns-1",
            group_id="g1",
            job_id=10,
            job_instance_id=row["instance_id"],
        )
        response = await asyncio.to_thread(
            Client(sdk_config).retry_job_instance_with_options, request, RuntimeOptions()
        )
        assert (response.body.code, response.body.success) == (200, True)
    assert [r["attempt"] for r in sim.retries()] == [2, 3]
    assert len(sim.instances(10)) == 1


async def test_peaks_measure_capacity_at_the_server(
    start_sim: Any, make_config: Any, raw: Any, params: Any, clock: Any, http: Any
) -> None:
    jobs = (JobSpec("cn-hangzhou", "ns-1", "g1", ((10, 11),), max_concurrency=2, group_capacity=3),)
    config = make_config(
        jobs=jobs, instance_wait_seconds=0.0, instance_run_seconds=10.0, failure_rate=1.0
    )
    sim = await start_sim(config, clock=clock)
    client = raw(sim, wall=clock.wall)
    await client.v3("RerunJob", params.rerun(**days(4)))  # job 10: 4 days, 2 at a time
    await client.v3("RerunJob", params.rerun(job_id=11, **days(1)))
    clock.advance(100)
    assert sim.peaks(2) == {
        "jobs": {
            "cn-hangzhou/10": {"active": 4, "running": 2},
            "cn-hangzhou/11": {"active": 1, "running": 1},
        },
        "groups": {"cn-hangzhou/ns-1/g1": {"active": 5, "running": 3}},
    }
    # A retried attempt counts from its retry; the earlier attempt is not forgotten.
    failed = sim.instances(11)[0]
    retry = {**params.listing(job_id=11), "JobInstanceId": str(failed["instance_id"])}
    assert (await client.v3("RetryJobInstance", retry, in_query=True)).json()["Success"]
    clock.advance(100)
    async with http.get(f"{sim.url}/_simulator/peaks?trigger_type=2") as response:
        after = await response.json()
    assert after["jobs"]["cn-hangzhou/11"] == {"active": 1, "running": 1}
    assert sim.peaks(1) == {"jobs": {}, "groups": {}}
