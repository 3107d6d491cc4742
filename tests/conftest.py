"""Suite-wide guards. Tests only ever talk to 127.0.0.1, and depend on nothing ambient.

The official credentials chain (an installed extra) would ask the ECS metadata service at
100.100.100.200 when nothing else yields credentials. No test may do that, whatever it
forgets to set, and subprocesses inherit this environment.

Every test also starts from a hermetic environment: no `ALIBABA_CLOUD_*` (or the older
`ALICLOUD_*`/`ALIYUN_*`) variable of the machine running the suite, no `RERUN_ORCHESTRATOR_*`
or `XDG_*` setting, and a `HOME` of its own, so that a developer's aliyun profile or a CI
runner's variables (e.g. `ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true`) cannot change a result.
`make test-hostile` runs the suite with every such variable set to something odd to prove it.
"""

import os
import re
import tempfile
import uuid
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
import yaml

from rerun_orchestrator._pg_server import ServerUnavailableError, ThrowawayServer

if TYPE_CHECKING:
    from rerun_orchestrator.simulator import SimulatorConfig

METADATA_OFF = {"ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true"}
AMBIENT_PREFIXES = ("ALIBABA_CLOUD_", "ALICLOUD_", "ALIYUN_", "RERUN_ORCHESTRATOR_", "XDG_")
# Variables a test harness itself needs (failpoints are armed per subprocess by the tests).
KEPT = frozenset({"RERUN_ORCHESTRATOR_FAILPOINTS"})


def _ambient(name: str) -> bool:
    return name.upper().startswith(AMBIENT_PREFIXES) and name not in KEPT


def _scrub(environ: MutableMapping[str, str], home: str) -> None:
    for name in [name for name in environ if _ambient(name)]:
        del environ[name]
    environ.update(METADATA_OFF, HOME=home, RERUN_ORCHESTRATOR_HOME=f"{home}/rerun-orchestrator")


# For the whole process first (session- and module-scoped fixtures start subprocesses before
# any per-test fixture runs), then once more for each test, with a HOME of its own.
_scrub(os.environ, tempfile.mkdtemp(prefix="rerun-tests-home-"))


@pytest.fixture(autouse=True)
def hermetic_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A clean environment and a private HOME (and state directory) for every test."""
    home = tmp_path_factory.mktemp("home")
    for name in [name for name in os.environ if _ambient(name)]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("RERUN_ORCHESTRATOR_HOME", str(home / "rerun-orchestrator"))
    for name, value in METADATA_OFF.items():
        monkeypatch.setenv(name, value)
    return home


# -- The pre-flight's world --------------------------------------------------------------
# A simulator that holds every kind of wrong job, and plans of target lists written to disk:
# for the pre-flight's tests (tests/preflight) and the `check` command's (tests/cli).

PF_KEY, PF_SECRET = "pf-key", "pf-secret-canary-1234"
PF_REGION, PF_NS = "cn-hangzhou", "ns-1"


def preflight_world(**overrides: Any) -> "SimulatorConfig":
    """Good jobs 1-600 (MaxConcurrency 2, cron at 02:30) and 700 (default), a disabled 21,
    a job 900 of group g2, a basic-edition group with job 300; no quota unless asked."""
    from rerun_orchestrator.simulator import CredentialSpec, JobSpec, SimulatorConfig  # noqa: PLC0415

    config: dict[str, Any] = {
        "credentials": (CredentialSpec(PF_KEY, PF_SECRET),),
        "jobs": (
            JobSpec(
                PF_REGION, PF_NS, "g1", ((1, 20), (22, 600)), max_concurrency=2, cron="0 30 2 * * ?"
            ),
            JobSpec(PF_REGION, PF_NS, "g1", ((21, 21),), enabled=False),
            JobSpec(PF_REGION, PF_NS, "g1", ((700, 700),)),
            JobSpec(PF_REGION, PF_NS, "g1", ((800, 800),), time_type=3, every_seconds=60),
            JobSpec(PF_REGION, PF_NS, "g2", ((900, 900),)),
            JobSpec(PF_REGION, PF_NS, "basic.group", ((300_000, 300_000),), edition="basic"),
        ),
        "quota": {},
        "default_quota": None,
    }
    config.update(overrides)
    return SimulatorConfig(**config)


@pytest.fixture
def make_world() -> Callable[..., "SimulatorConfig"]:
    """`preflight_world`: keyword arguments replace its fields."""
    return preflight_world


@pytest.fixture
def write_targets(tmp_path: Path) -> Callable[..., Path]:
    """Write a plan of `targets` (each a dict with at least `jobs`) and return its path."""

    def write(targets: list[dict[str, Any]], name: str = "pf") -> Path:
        plan = {
            "version": 1,
            "name": name,
            "timezone": "Asia/Shanghai",
            "region": PF_REGION,
            "namespace": PF_NS,
            "group": "g1",
            "data_time": "10:00:00",
            "targets": [
                {"windows": [{"start": "2024-01-01", "end": "2024-01-07"}], **t} for t in targets
            ],
        }
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(plan, sort_keys=False))
        return path

    return write


# -- PostgreSQL ---------------------------------------------------------------------------
# One throwaway server for the whole session (started only if a test asks for it), and a
# schema of its own for every test. In CI (CI=true) a server that cannot start fails the
# tests that need it: the PostgreSQL journal is never silently left untested there.


@pytest.fixture(scope="session")
def postgres_server():
    try:
        server = ThrowawayServer.create()
        server.start()
    except ServerUnavailableError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI needs PostgreSQL for these tests and it could not start: {exc}")
        pytest.skip(f"PostgreSQL is not available here ({exc}); CI runs these tests")
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def postgres_url(postgres_server, request: pytest.FixtureRequest) -> str:
    """A URL whose search_path is a fresh schema: each test sees an empty database."""
    name = re.sub(r"\W", "_", request.node.name.lower())[:30] + "_" + uuid.uuid4().hex[:8]
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    return f"{postgres_server.url}?options=-csearch_path%3D{name}"
