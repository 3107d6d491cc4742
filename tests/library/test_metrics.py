"""Metrics through OpenTelemetry, read back with the SDK's in-memory reader.

The SDK's meter provider is set once for the process (OpenTelemetry allows no second), in
this module's fixture; the library's instruments are proxies made from the API's global
meter, so they forward to it from then on.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from collections import defaultdict
from typing import Any

import pytest
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import rerun_orchestrator as ro
from rerun_orchestrator import _metrics
from rerun_orchestrator.run import RetryBudget, RunStats
from rerun_orchestrator.run._events import InstanceChanged
from rerun_orchestrator.simulator import FaultRule, QuotaSpec, SimulatorConfig
from rerun_orchestrator.testing import RerunHarness

_reader: InMemoryMetricReader | None = None


@pytest.fixture
def reader() -> InMemoryMetricReader:
    global _reader  # noqa: PLW0603 - one SDK provider per process, as OpenTelemetry wants
    if _reader is None:
        _reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[_reader]))
    _reader.get_metrics_data()  # start from here (cumulative sums are compared below)
    return _reader


@pytest.fixture
def schedulerx_simulator_config(schedulerx_simulator_config: SimulatorConfig) -> SimulatorConfig:
    """A tight quota (throttles) and a few transient errors (retries, backoff)."""
    return dataclasses.replace(
        schedulerx_simulator_config,
        quota={"RerunJob": QuotaSpec(5.0, 1.0), "GetJobInstanceList": None},
        faults=(FaultRule(kind="unavailable", actions=("RerunJob",), probability=0.2),),
        seed=3,
    )


def _points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    out: dict[str, list[Any]] = defaultdict(list)
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                out[metric.name].extend(metric.data.data_points)
    return out


@pytest.mark.asyncio
async def test_the_instruments_see_calls_throttles_backoff_rate_and_states(
    make_plan: Any, rerun_harness: RerunHarness, reader: InMemoryMetricReader
) -> None:
    plan = make_plan("metrics-plan", "1-3", "20/s")
    journal = ro.MemoryJournal(clock=rerun_harness.clock)
    stats = RunStats()
    wiring = rerun_harness.wiring(plan, journal, stats=stats)
    seen_rates: dict[str, Any] = {}

    def peek(event: ro.RunEvent) -> None:
        if isinstance(event, ro.ChunkFinished) and not seen_rates:  # while the run runs
            seen_rates.update(_points(reader))

    # throttles and 503s must not exhaust the retry budget: this test is about counting them
    policy = ro.RunPolicy(budget=RetryBudget(ratio=10.0, floor=1000))
    result = await ro.run_plan(plan, dataclasses.replace(wiring, on_event=peek), policy)
    assert result.exit_code == 0
    assert result.throttled > 0
    during = seen_rates
    assert [p.attributes["rerun.plan"] for p in during["rerun_orchestrator.rate"]] == [
        "metrics-plan"
    ]
    assert 0 < during["rerun_orchestrator.rate"][0].value <= 20
    states = {p.attributes["rerun.state"]: p.value for p in during["rerun_orchestrator.chunks"]}
    assert sum(states.values()) == 12

    after = _points(reader)
    attempts = sum(
        p.value
        for p in after["rerun_orchestrator.attempts"]
        if p.attributes["rerun.plan"] == "metrics-plan"
    )
    assert attempts == result.attempts
    outcomes = {p.attributes["rerun.outcome"] for p in after["rerun_orchestrator.attempts"]}
    assert {"succeeded", "retrying"} <= outcomes
    durations = [
        p
        for p in after["rerun_orchestrator.call.duration"]
        if p.attributes["rerun.plan"] == "metrics-plan"
    ]
    assert sum(p.count for p in durations) == result.attempts
    assert all(p.attributes["rpc.method"] == "RerunJob" for p in durations)
    throttles = [
        p
        for p in after["rerun_orchestrator.throttles"]
        if p.attributes["rerun.plan"] == "metrics-plan"
    ]
    assert sum(p.value for p in throttles) == result.throttled
    assert {p.attributes["error.type"] for p in throttles} == {"Throttling.User"}
    backoff = after["rerun_orchestrator.backoff.delay"]
    assert sum(p.count for p in backoff if p.attributes["rerun.plan"] == "metrics-plan") > 0
    settled = {
        p.attributes["rerun.state"]: p.value
        for p in after["rerun_orchestrator.chunks.settled"]
        if p.attributes["rerun.plan"] == "metrics-plan"
    }
    assert settled == {"succeeded": 12}
    days = [
        p
        for p in after["rerun_orchestrator.days.settled"]
        if p.attributes["rerun.plan"] == "metrics-plan"
    ]
    assert sum(p.value for p in days) == 3 * 28
    # a finished run is no longer observed
    assert not [
        p
        for p in after.get("rerun_orchestrator.rate", [])
        if p.attributes["rerun.plan"] == "metrics-plan"
    ]
    # no job ids, chunk keys or RequestIds in any attribute
    keys = {k for points in after.values() for p in points for k in p.attributes}
    assert keys <= {
        "rerun.plan",
        "rerun.account",
        "rpc.method",
        "rerun.outcome",
        "error.type",
        "rerun.state",
        "rerun.instance.status",
    }


def test_instances_are_counted_by_the_status_the_watcher_saw(
    reader: InMemoryMetricReader,
) -> None:
    metrics = _metrics.RunMetrics("watched-plan", None)
    for status in ("running", "success", "running", "failed"):
        metrics.observe(InstanceChanged(7, "2024-01-01", 11, status, "7:key", None))
    points = [
        p
        for p in _points(reader)["rerun_orchestrator.instances"]
        if p.attributes["rerun.plan"] == "watched-plan"
    ]
    assert {p.attributes["rerun.instance.status"]: p.value for p in points} == {
        "running": 2,
        "success": 1,
        "failed": 1,
    }
    # the job id, the day and the instance id stay out of the attributes (logs carry them)
    assert {k for p in points for k in p.attributes} == {"rerun.plan", "rerun.instance.status"}


@pytest.mark.slow
def test_without_the_opentelemetry_api_the_library_runs_and_records_nothing() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["opentelemetry"] = None  # as if the [otel] extra were not installed
        from rerun_orchestrator import _metrics
        assert _metrics._otel is None
        m = _metrics.RunMetrics("p", None)
        assert m._instruments is None
        m.backoff(1.0)
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


@pytest.mark.asyncio
async def test_an_accounts_reconciler_times_its_get_job_instance_list_calls(
    make_plan: Any, rerun_harness: RerunHarness, reader: InMemoryMetricReader
) -> None:
    plan = make_plan("reads", "1", "1/s", days=7)
    chunk = next(iter(plan.chunks()))
    record = ro.ChunkRecord(
        chunk, ro.ChunkStatus.UNKNOWN, attempts=1, attempt_started_at=rerun_harness.clock.wall()
    )
    await rerun_harness.reconciler(plan).reconcile(record)
    reads = [
        p
        for p in _points(reader)["rerun_orchestrator.call.duration"]
        if p.attributes["rpc.method"] == "GetJobInstanceList"
    ]
    assert sum(p.count for p in reads) >= 1
    assert {p.attributes["rerun.account"] for p in reads} == {rerun_harness.account}
