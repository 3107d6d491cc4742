"""End-to-end fixtures: the simulator and `rerun-orchestrator run` as real subprocesses.

The simulator runs in its own process so that its state (every instance it created)
outlives a `run` that is SIGKILLed; the tests then read that state over HTTP and prove
that every (job, day) of the plan has exactly one rerun instance.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

ACCESS_KEY = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "testid",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "testsecret",
}
REGION, NAMESPACE, GROUP = "cn-hangzhou", "ns-1", "g1"
RERUN = 2  # TriggerType of a rerun's instances
# `run`'s hidden test flags: the simulator creates instances at once, so reconciliation
# need not wait 10 s for them, and its queries may go as fast as the simulator allows.
# No pre-flight: these tests are about RerunJob (their failpoints count its requests), and
# the pre-flight has its own tests (tests/preflight).
# The watch polls every 0.1 s, not 2 s: the instances are instant, and a run that watches
# would otherwise wait out a whole poll before it could see them end.
FAST = ("--settle-seconds", "0.3", "--read-rate", "200/s", "--no-progress", "--no-preflight")
FAST += ("--watch-poll", "0.1", "--clock-skew", "1")
_START_TIMEOUT = 30.0


def _base_config(job_ids: Sequence[str | int] = ("1-200",), **extra: Any) -> dict[str, Any]:
    """A simulator config with generous quotas, so that tests are fast."""
    config: dict[str, Any] = {
        "server_timezone": "Asia/Shanghai",
        "credentials": [{"access_key_id": "testid", "access_key_secret": "testsecret"}],
        "jobs": [
            {
                "region": REGION,
                "namespace": NAMESPACE,
                "group": GROUP,
                "job_ids": list(job_ids),
                "max_concurrency": 1000,
            }
        ],
        # Far above what the parallel runs ask for: throttling is tested elsewhere, and
        # here it would only spend retry budgets.
        "quota": {"RerunJob": "10000/s", "GetJobInstanceList": "10000/s"},
        "instance_wait_seconds": 0,
        "instance_run_seconds": 0,
    }
    config.update(extra)
    return config


class SimProcess:
    """`rerun-orchestrator simulate` in a subprocess, with its inspection routes."""

    def __init__(self, directory: Path, config: Mapping[str, Any]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.config_path = directory / "simulator.yaml"
        self.config_path.write_text(yaml.safe_dump(dict(config)))
        self._stdout = directory / "simulator.out"
        self._stderr = directory / "simulator.err"
        with self._stdout.open("wb") as out, self._stderr.open("wb") as err:
            self.proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "rerun_orchestrator", "simulate"),
                    *("--port", "0", "--config", str(self.config_path)),
                ],
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            first = self._stdout.read_text().partition("\n")
            if first[1]:
                url = first[0].strip()
                assert url.startswith("http://127.0.0.1:"), url
                return url
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise AssertionError(f"simulator did not start: {self._stderr.read_text()}")

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:  # loopback only
            return json.loads(response.read())

    def instances(self) -> list[dict[str, Any]]:
        return self._get("/_simulator/instances")

    def calls(self) -> list[dict[str, Any]]:
        return self._get("/_simulator/calls")

    def faults(self) -> list[dict[str, Any]]:
        """Each fault rule with how often it fired."""
        return self._get("/_simulator/faults")

    def set_faults(self, rules: list[dict[str, Any]]) -> None:
        request = urllib.request.Request(
            self.url + "/_simulator/faults",
            data=json.dumps(rules).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class E2E:
    """Helpers shared by the end-to-end tests."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self._sims: list[SimProcess] = []

    def simulator(
        self, config: Mapping[str, Any] | None = None, *, name: str = "sim"
    ) -> SimProcess:
        sim = SimProcess(self.tmp / name, config or _base_config())
        self._sims.append(sim)
        return sim

    def plan(
        self,
        name: str,
        jobs: Sequence[int | str],
        *,
        start: date = date(2024, 1, 1),
        days: int = 10,
        chunk_days: int = 3,
        rate: str = "100/s",
        concurrency: int = 4,
        max_attempts: int = 6,
        group: str = GROUP,
    ) -> Path:
        path = self.tmp / f"{name}.yaml"
        plan = {
            "version": 1,
            "name": name,
            "timezone": "Asia/Shanghai",
            "region": REGION,
            "namespace": NAMESPACE,
            "group": group,
            "data_time": "10:00:00",
            "chunk_days": chunk_days,
            "targets": [
                {
                    "jobs": list(jobs),
                    "windows": [
                        {
                            "start": start.isoformat(),
                            "end": (start + timedelta(days=days - 1)).isoformat(),
                        }
                    ],
                }
            ],
            "execution": {
                "rate": rate,
                "concurrency": concurrency,
                "max_attempts": max_attempts,
            },
        }
        path.write_text(yaml.safe_dump(plan, sort_keys=False))
        return path

    def run_args(self, plan: Path, url: str, journal: Path, *extra: str) -> list[str]:
        """`run PLAN --endpoint URL --journal J` with the fast test flags."""
        return ["run", str(plan), "--endpoint", url, "--journal", str(journal), *FAST, *extra]

    def run(
        self,
        *args: str,
        failpoints: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, **ACCESS_KEY, **(env or {})}
        environment.pop("RERUN_ORCHESTRATOR_FAILPOINTS", None)
        if failpoints:
            environment["RERUN_ORCHESTRATOR_FAILPOINTS"] = failpoints
        return subprocess.run(
            [sys.executable, "-m", "rerun_orchestrator", *args],
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
        )

    def launch(
        self, *args: str, failpoints: str | None = None, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[str]:
        """Start `rerun-orchestrator ARGS` without waiting for it."""
        environment = {**os.environ, **ACCESS_KEY, **(env or {})}
        environment.pop("RERUN_ORCHESTRATOR_FAILPOINTS", None)
        if failpoints:
            environment["RERUN_ORCHESTRATOR_FAILPOINTS"] = failpoints
        return subprocess.Popen(
            [sys.executable, "-m", "rerun_orchestrator", *args],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    def run_many(
        self,
        commands: Sequence[tuple[Sequence[str], str | None]],
        *,
        parallel: int = 6,
        timeout: float = 120,
    ) -> list[subprocess.CompletedProcess[str]]:
        """Run (args, failpoints) commands, `parallel` at a time; results in order."""
        results: list[subprocess.CompletedProcess[str] | None] = [None] * len(commands)
        pending = list(enumerate(commands))
        running: list[tuple[int, subprocess.Popen[str]]] = []
        deadline = time.monotonic() + timeout
        while pending or running:
            while pending and len(running) < parallel:
                index, (args, failpoints) = pending.pop(0)
                running.append((index, self.launch(*args, failpoints=failpoints)))
            index, proc = running.pop(0)
            try:
                out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                for _, other in [(index, proc), *running]:
                    other.kill()
                    other.communicate()
                raise
            results[index] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        return [r for r in results if r is not None]

    # Module functions travel as methods: test modules cannot import this conftest.
    def base_config(
        self, job_ids: Sequence[str | int] = ("1-200",), **extra: Any
    ) -> dict[str, Any]:
        return _base_config(job_ids, **extra)

    def rerun_days(self, sim: SimProcess, jobs: Sequence[int]) -> Counter[tuple[int, str]]:
        return _rerun_days(sim, jobs)

    def assert_exactly_once(
        self, sim: SimProcess, jobs: Sequence[int], start: date, days: int
    ) -> None:
        _assert_exactly_once(sim, jobs, start, days)

    def stop(self) -> None:
        for sim in self._sims:
            sim.stop()


def _job_days(jobs: Sequence[int], start: date, days: int) -> set[tuple[int, str]]:
    return {(job, (start + timedelta(days=d)).isoformat()) for job in jobs for d in range(days)}


def _rerun_days(sim: SimProcess, jobs: Sequence[int]) -> Counter[tuple[int, str]]:
    """How many rerun instances the simulator holds per (job, data day)."""
    wanted = set(jobs)
    return Counter(
        (row["job_id"], row["data_time"][:10])
        for row in sim.instances()
        if row["trigger_type"] == RERUN and row["job_id"] in wanted
    )


def _assert_exactly_once(sim: SimProcess, jobs: Sequence[int], start: date, days: int) -> None:
    """Every (job, day) of the plan has exactly one rerun instance; no other day has any."""
    counts = _rerun_days(sim, jobs)
    expected = _job_days(jobs, start, days)
    missing = sorted(expected - counts.keys())
    doubled = sorted(key for key, n in counts.items() if n > 1)
    extra = sorted(counts.keys() - expected)
    assert (missing, doubled, extra) == ([], [], []), (
        f"missing {missing[:5]}, doubled {doubled[:5]}, unplanned {extra[:5]}"
    )


@pytest.fixture
def e2e(tmp_path: Path) -> Iterator[E2E]:
    helpers = E2E(tmp_path)
    try:
        yield helpers
    finally:
        helpers.stop()


@pytest.fixture(scope="module")
def e2e_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    """Like `e2e`, shared by a module (one simulator for many scenarios)."""
    helpers = E2E(tmp_path_factory.mktemp("e2e"))
    try:
        yield helpers
    finally:
        helpers.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every end-to-end test starts subprocesses: all are `slow` (`-m "not slow"` skips them)."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.slow)
