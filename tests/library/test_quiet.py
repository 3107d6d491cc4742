"""Quiet by default: a service that configures no logging gets nothing on stdout or stderr."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

import rerun_orchestrator as ro
from rerun_orchestrator.plan import Rate
from rerun_orchestrator.run._simulate import simulator_config_for

ROOT = Path(__file__).resolve().parents[2]
KEY = ro.Credentials("quiet-key", "quiet-secret")


@pytest.fixture
def unconfigured_structlog() -> Iterator[None]:
    saved = structlog.get_config()
    structlog.reset_defaults()  # as in a fresh process whose host never configured it
    assert not structlog.is_configured()
    yield
    structlog.configure(**saved)


async def _run_demo(tmp_path: Path) -> ro.RunResult:
    plan = ro.load_plan(ROOT / "plans" / "demo.yaml")
    simulator = ro.Simulator(simulator_config_for(plan, KEY, Rate(1000, 1)))
    url = await simulator.start("127.0.0.1", 0)
    try:
        with ro.SqliteJournal.open(
            tmp_path / "j.sqlite", plan_name=plan.name, plan_digest=plan.digest
        ) as journal:
            async with ro.SchedulerXClient(
                ro.StaticCredentialsProvider(KEY), endpoint=url
            ) as client:
                return await ro.run_plan(
                    plan,
                    client=client,
                    journal=journal,
                    reconciler=ro.Reconciler(client, timezone=plan.timezone, settle_seconds=0),
                    limiter=ro.RateLimiter(1000.0),
                )
    finally:
        await simulator.stop()


@pytest.mark.asyncio
async def test_run_plan_writes_nothing_without_logging_configured(
    unconfigured_structlog: None, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    result = await _run_demo(tmp_path)
    assert result.counts.succeeded == 39
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


@pytest.mark.asyncio
async def test_the_same_run_logs_once_the_host_configures_structlog(
    unconfigured_structlog: None, tmp_path: Path
) -> None:
    with capture_logs() as logs:  # configures structlog, as a host would
        result = await _run_demo(tmp_path)
    attempts = [e for e in logs if e["event"] == "rerun.attempt"]
    assert len(attempts) == result.attempts == 39


@pytest.mark.asyncio
async def test_the_documented_stdlib_recipe_puts_run_plan_and_account_on_every_event(
    unconfigured_structlog: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import json  # noqa: PLC0415
    import logging  # noqa: PLC0415

    structlog.configure(  # docs/library.md, "Quiet by default; logs your way"
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            structlog.stdlib.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    caplog.set_level(logging.INFO)
    plan = ro.load_plan(ROOT / "plans" / "demo.yaml")
    simulator = ro.Simulator(simulator_config_for(plan, KEY, Rate(1000, 1)))
    url = await simulator.start("127.0.0.1", 0)
    try:
        async with ro.SchedulerXClient(ro.StaticCredentialsProvider(KEY), endpoint=url) as c:
            policy = ro.RunPolicy(run_id="r-1")
            wiring = ro.RunWiring(
                client=c,
                journal=ro.MemoryJournal(),
                account="quiet-key",
                accounts=ro.AccountRegistry(),
            )
            await ro.run_plan(plan, wiring, policy)
    finally:
        await simulator.stop()
    events = [
        json.loads(r.getMessage()) for r in caplog.records if r.name == "rerun_orchestrator.run"
    ]
    assert len([e for e in events if e["event"] == "rerun.attempt"]) == 39
    assert all(
        (e["run_id"], e["plan"], e["account"]) == ("r-1", "demo", "quiet-key") for e in events
    )
