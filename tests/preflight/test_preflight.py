"""The pre-flight against the simulator: every kind of wrong job, pacing, retries, the cache.

What was asked is read from the simulator's own records (its request log and counters),
not from the report under test.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator.plan import Rate, load_plan
from rerun_orchestrator.preflight import MemoryCache, ProblemKind, preflight_plan
from rerun_orchestrator.run import LimiterRegistry
from rerun_orchestrator.schedulerx import (
    AppGroup,
    Credentials,
    JobInfo,
    SchedulerXClient,
    StaticCredentialsProvider,
)
from rerun_orchestrator.simulator import FaultRule, Simulator

pytestmark = pytest.mark.asyncio
KEY, SECRET = "pf-key", "pf-secret-canary-1234"  # as the conftest's `world` holds them
FAST = Rate(1000, 1)


def client_for(sim: Simulator, secret: str = SECRET, clock: Any = None) -> SchedulerXClient:
    credentials = StaticCredentialsProvider(Credentials(KEY, secret))
    return SchedulerXClient(credentials, endpoint=sim.url, clock=clock)


async def check(sim: Simulator, path: Path, **kw: Any) -> Any:
    kw.setdefault("read_rate", FAST)
    kw.setdefault("limiters", LimiterRegistry())
    async with client_for(sim, kw.pop("secret", SECRET), kw.get("clock")) as client:
        return await preflight_plan(load_plan(path), client, account=KEY, **kw)


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


async def test_every_kind_of_wrong_job_is_named_at_its_position(
    write_targets: Callable[..., Path],
    make_world: Any,
) -> None:
    path = write_targets(
        [
            {"jobs": [1, 21, 999, 900]},
            {"group": "basic.group", "jobs": [300000]},
            {"group": "nosuch", "jobs": [5]},
            {"namespace": "ns-x", "jobs": [6]},
            {"region": "cn-hangzou", "jobs": [7]},
        ]
    )
    async with Simulator(make_world()) as sim:
        result = await check(sim, path)
        requests = Counter(r["action"] for r in sim.requests())
    report = result.report
    kinds = {(p.ref.job_id, p.kind) for p in report.problems}
    assert kinds == {
        (21, ProblemKind.DISABLED),
        (999, ProblemKind.JOB_NOT_FOUND),
        (900, ProblemKind.OTHER_GROUP),
        (300000, ProblemKind.BASIC_EDITION),
        (5, ProblemKind.GROUP_NOT_FOUND),
        (6, ProblemKind.NAMESPACE_NOT_FOUND),
        (7, ProblemKind.REGION_NOT_FOUND),
    }
    assert not result.ok
    assert report.bad_jobs == 7
    # Jobs of a namespace ListGroups showed missing are not asked; of a group it did not
    # list, one is (to confirm), the others not.
    assert requests == {"ListGroups": 3, "GetJobInfo": 6}
    # Each job at the position of its entry in the file, the entries in file order.
    jobs_line = line_of(path, "- 1")
    by_job = {}
    for line in result.diagnostics():
        where, _, what = line.partition(": job ")
        by_job[int(what.split(":")[0])] = (where, what)
    assert by_job[21][0] == f"{path}:{jobs_line + 1}:5"
    assert by_job[999][0] == f"{path}:{jobs_line + 2}:5"
    assert "is disabled" in by_job[21][1]
    assert "not found in cn-hangzhou/ns-1/g1" in by_job[999][1]
    assert "is not a job of group g1" in by_job[900][1]
    assert "Basic Edition" in by_job[300000][1]
    assert "group nosuch not found" in by_job[5][1]
    assert "namespace ns-x not found in cn-hangzhou" in by_job[6][1]
    assert "region cn-hangzou not found" in by_job[7][1]
    assert by_job[5][0] == f"{path}:{line_of(path, '- 5')}:5"
    # What the run will use, for the good job.
    [good] = [f for f in report.facts.values() if f.ref.job_id == 1]
    assert (good.max_concurrency, good.schedule.expression, good.professional) == (
        2,
        "0 30 2 * * ?",
        True,
    )


async def test_a_range_is_one_entry_and_a_good_plan_is_ok(
    write_targets: Callable[..., Path], make_world: Any
) -> None:
    path = write_targets(
        [
            {"jobs": ["1-20", 700]},
            {"jobs": [700], "windows": [{"start": "2024-03-01", "end": "2024-03-02"}]},
        ]
    )
    async with Simulator(make_world()) as sim:
        result = await check(sim, path)
        asked = [r for r in sim.requests() if r["action"] == "GetJobInfo"]
    assert result.ok
    assert result.report.jobs == 21
    assert len(asked) == 21  # job 700, listed twice, is asked once
    doc = result.to_json()
    assert doc["ok"] is True
    assert {j["job_id"]: j["max_concurrency"] for j in doc["jobs"]}[700] == 1
    assert all(j["line"] == doc["jobs"][0]["line"] for j in doc["jobs"] if j["job_id"] <= 20)
    assert "MaxConcurrency 1: 1, 2: 20" in result.summary()


async def test_500_jobs_are_checked_within_the_get_job_info_quota(
    write_targets: Callable[..., Path],
    make_world: Any,
) -> None:
    """At the real quota (100/min per API and account), measured at the simulator: no call
    is throttled, and the check takes about what the quota allows (simulated time)."""
    clock = FakeClock(wall_start=time.time())
    config = make_world(
        quota={"GetJobInfo": "100/min", "ListGroups": "100/min"}, default_quota=None
    )
    path = write_targets([{"jobs": ["1-20", "22-501"]}])
    async with Simulator(config, clock=clock) as sim:
        started = clock.now()
        result = await check(sim, path, read_rate=Rate(100, 60), clock=clock)
        elapsed = clock.now() - started
        counters = sim.counters()["GetJobInfo"]
    assert result.ok
    assert result.report.jobs == 500
    assert (counters["accepted"], counters["throttled"]) == (500, 0)
    bound = 499 / (100 / 60)  # the first call is free (the bucket starts full)
    assert bound <= elapsed <= bound * 1.02


async def test_transient_trouble_is_retried(
    write_targets: Callable[..., Path], make_world: Any
) -> None:
    path = write_targets([{"jobs": ["1-10"]}])
    async with Simulator(make_world()) as sim:
        sim.set_faults(
            [
                FaultRule("throttle", budget=3, actions=("GetJobInfo",)),
                FaultRule("unavailable", budget=2, actions=("GetJobInfo", "ListGroups")),
            ]
        )
        result = await check(sim, path, clock=FakeClock(wall_start=time.time()))
        counters = sim.counters()
    assert result.ok, result.diagnostics() + result.report.notes
    assert len(result.report.facts) == 10
    faults = {
        k: v for api in ("GetJobInfo", "ListGroups") for k, v in counters[api]["faults"].items()
    }
    assert sum(faults.values()) == 5
    assert counters["GetJobInfo"]["accepted"] == 10


async def test_refused_credentials_stop_at_once(
    write_targets: Callable[..., Path], make_world: Any
) -> None:
    path = write_targets([{"jobs": ["1-50"]}])
    async with Simulator(make_world()) as sim:
        result = await check(sim, path, secret="wrong")
        requests = sim.requests()
    assert result.report.fatal is not None
    assert "SignatureDoesNotMatch" in result.report.fatal
    assert SECRET not in result.report.fatal
    assert not result.ok
    assert len(requests) == 1  # no quota spent on 50 refusals
    assert "pre-flight stopped" in result.diagnostics()[-1]


async def test_list_groups_refused_leaves_editions_unchecked(
    write_targets: Callable[..., Path], make_world: Any
) -> None:
    path = write_targets([{"jobs": [1, 2]}])
    async with Simulator(make_world()) as sim:
        sim.set_faults([FaultRule("throttle", code="Forbidden.RAM", actions=("ListGroups",))])
        result = await check(sim, path)
    assert result.ok  # GetJobInfo still answered for both
    assert {f.professional for f in result.report.facts.values()} == {None}
    assert any("group editions not checked" in note for note in result.report.notes)


async def test_the_cache_spares_known_good_jobs_only(
    write_targets: Callable[..., Path], make_world: Any
) -> None:
    path = write_targets([{"jobs": [1, 2, 21]}])
    cache = MemoryCache()
    async with Simulator(make_world()) as sim:
        first = await check(sim, path, cache=cache)
        sim.reset()
        second = await check(sim, path, cache=cache)
        asked = [r for r in sim.requests() if r["action"] == "GetJobInfo"]
    assert [p.ref.job_id for p in first.report.problems] == [21]
    assert second.report.cached == 2
    assert [p.ref.job_id for p in second.report.problems] == [21]  # a bad job is asked again
    assert len(asked) == 1


async def test_progress_is_reported_up_to_the_total(
    write_targets: Callable[..., Path], make_world: Any
) -> None:
    path = write_targets([{"jobs": ["1-5", 999]}, {"group": "nosuch", "jobs": [6]}])
    seen: list[tuple[int, int]] = []
    async with Simulator(make_world()) as sim:
        await check(sim, path, on_progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (7, 7)
    assert [done for done, _ in seen] == list(range(1, 8))


async def test_two_checks_of_one_account_share_one_read_budget(
    write_targets: Callable[..., Path], make_world: Any
) -> None:
    clock = FakeClock(wall_start=time.time())
    config = make_world(quota={"GetJobInfo": "100/min", "ListGroups": "100/min"})
    first, second = (
        write_targets([{"jobs": ["1-20"]}], "a"),
        write_targets([{"jobs": ["22-41"]}], "b"),
    )
    limiters = LimiterRegistry()
    async with Simulator(config, clock=clock) as sim:
        async with anyio.create_task_group() as tg:
            for path in (first, second):
                tg.start_soon(
                    functools.partial(
                        check, sim, path, read_rate=Rate(100, 60), clock=clock, limiters=limiters
                    )
                )
        counters = sim.counters()
    assert counters["GetJobInfo"]["accepted"] == 40
    assert counters["GetJobInfo"]["throttled"] == 0  # two checks, one pace
    assert clock.now() >= 39 / (100 / 60)


async def test_a_namespace_with_and_without_a_source_in_one_plan(
    write_targets: Callable[..., Path], make_world: Any
) -> None:
    path = write_targets([{"jobs": [999]}, {"namespace_source": "schedulerx", "jobs": [998]}])
    async with Simulator(make_world()) as sim:
        result = await check(sim, path)
    kinds = [(p.ref.namespace_source, p.kind) for p in result.report.problems]
    assert kinds == [
        (None, ProblemKind.JOB_NOT_FOUND),
        ("schedulerx", ProblemKind.NAMESPACE_NOT_FOUND),
    ]


async def test_a_group_missing_from_list_groups_is_confirmed_with_one_job(
    write_targets: Callable[..., Path], make_world: Any
) -> None:
    path = write_targets([{"group": "nosuch", "jobs": ["1-40"]}])
    async with Simulator(make_world()) as sim:
        result = await check(sim, path)
        asked = Counter(r["action"] for r in sim.requests())
    assert asked == {"ListGroups": 1, "GetJobInfo": 1}
    assert {p.kind for p in result.report.problems} == {ProblemKind.GROUP_NOT_FOUND}
    assert result.report.bad_jobs == 40


async def test_a_group_list_groups_does_not_show_is_still_checked(
    write_targets: Callable[..., Path],
) -> None:
    """ListGroups may show less than the caller can see: GetJobInfo has the last word."""

    class PartialListing:
        def __init__(self) -> None:
            self.asked: list[int] = []

        async def list_groups(self, **kw: Any) -> tuple[AppGroup, ...]:
            return (AppGroup("other", "other", 2),)

        async def get_job_info(self, **kw: Any) -> JobInfo:
            self.asked.append(kw["job_id"])
            return JobInfo(job_id=kw["job_id"], name="j", status=1, max_concurrency=3)

    path = write_targets([{"jobs": [1, 2, 3]}])
    client = PartialListing()
    result = await preflight_plan(
        load_plan(path), client, account=KEY, read_rate=FAST, limiters=LimiterRegistry()
    )
    assert result.ok
    assert sorted(client.asked) == [1, 2, 3]
    assert {f.professional for f in result.report.facts.values()} == {None}
    assert any("ListGroups does not list the group" in n for n in result.report.notes)
