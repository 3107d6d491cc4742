"""Test doubles for rerun-orchestrator and for the services that embed it.

Registered as a pytest plugin (entry point ``pytest11``), so in any project that has
rerun-orchestrator installed these fixtures are available without an import:

- ``schedulerx_simulator``: an async fixture (needs pytest-asyncio) that starts a
  `Simulator` on the test's event loop and yields a `SimulatorHandle`;
- ``schedulerx_simulator_sync``: the same served from a background thread, for
  synchronous tests and blocking clients;
- ``schedulerx_simulator_config`` / ``schedulerx_simulator_clock``: override them in a
  ``conftest.py`` (or a test module) to choose what the simulator holds and its clock;
  `simulator_config_for(plan)` gives a config holding exactly a plan's jobs;
- ``rerun_harness``: an async fixture wiring `run_plan` for tests: the simulator on a
  `FakeClock` (hours of pacing and backoff take milliseconds), a `SchedulerXClient` with a
  ready credentials provider for the simulator's first key, a reconciler that does not
  wait (``settle_seconds=0``) and an account registry of its own. See `RerunHarness`.

The executor's doubles travel here too: `ScriptedClient` (RerunJob answers from a script),
`ScriptedReconciler` and `Answers` (attempts classified by the real error table), for
`run_plan` on a `FakeClock` without any HTTP.

pytest imports this module at startup for every run, so it stays cheap: only fixture
definitions live here and the simulator is imported inside them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from ._clock import Clock, FakeClock
from ._lazy import lazy_exports

if TYPE_CHECKING:
    from ._doubles import Answers, ScriptedClient, ScriptedReconciler
    from .plan import Plan, Rate
    from .run import AccountRegistry, Reconciler, RunWiring
    from .schedulerx import SchedulerXClient, StaticCredentialsProvider
    from .simulator import CredentialSpec, Simulator, SimulatorConfig
    from .simulator._thread import SimulatorThread

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the async fixture then simply does not exist
    pytest_asyncio = None  # type: ignore[assignment]

__all__ = [
    "Answers",
    "FakeClock",
    "RerunHarness",
    "ScriptedClient",
    "ScriptedReconciler",
    "SimulatorHandle",
    "simulator_config_for",
]

# The executor's doubles, imported on first use (pytest imports this module at every
# start-up, and they pull in the client's modules).
_DOUBLES = dict.fromkeys(
    ("Answers", "ScriptedClient", "ScriptedReconciler"), "rerun_orchestrator._doubles"
)
__getattr__, __dir__ = lazy_exports(__name__, _DOUBLES, globals(), __all__)


@dataclass(frozen=True)
class SimulatorHandle:
    """What the simulator fixtures yield.

    Attributes:
        url: base URL, ``http://127.0.0.1:PORT``.
        credentials: the first configured AccessKey (use it to sign requests).
        simulator: the running `Simulator` (or `SimulatorThread`): ``calls()``,
            ``instances()``, ``counters()``, ``set_faults()``, ``reset()``.
    """

    url: str
    credentials: CredentialSpec
    simulator: Simulator | SimulatorThread

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:PORT``: the official SDK's ``Config(endpoint=..., protocol="http")``."""
        return self.url.removeprefix("http://")

    @property
    def config(self) -> SimulatorConfig:
        return self.simulator.config

    def calls(self) -> list[dict[str, Any]]:
        """Every accepted RerunJob call, oldest first."""
        return self.simulator.calls()


@pytest.fixture
def schedulerx_simulator_config() -> SimulatorConfig:
    """The config the simulator fixtures serve; override it to hold your own jobs."""
    from .simulator import SimulatorConfig  # noqa: PLC0415 keep plugin import cheap

    return SimulatorConfig.default()


@pytest.fixture
def schedulerx_simulator_clock() -> Clock | None:
    """The simulator's clock; None means the system clock. Override to inject one."""
    return None


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def schedulerx_simulator(
        schedulerx_simulator_config: SimulatorConfig,
        schedulerx_simulator_clock: Clock | None,
    ) -> AsyncIterator[SimulatorHandle]:
        """A simulator on the test's event loop, stopped after the test."""
        from .simulator import Simulator  # noqa: PLC0415 keep plugin import cheap

        simulator = Simulator(schedulerx_simulator_config, clock=schedulerx_simulator_clock)
        url = await simulator.start()
        try:
            yield SimulatorHandle(url, schedulerx_simulator_config.credentials[0], simulator)
        finally:
            await simulator.stop()


@pytest.fixture
def schedulerx_simulator_sync(
    schedulerx_simulator_config: SimulatorConfig,
    schedulerx_simulator_clock: Clock | None,
) -> Iterator[SimulatorHandle]:
    """A simulator served from a background thread, for synchronous tests."""
    from .simulator._thread import SimulatorThread  # noqa: PLC0415 keep plugin import cheap

    simulator = SimulatorThread(schedulerx_simulator_config, clock=schedulerx_simulator_clock)
    url = simulator.start()
    try:
        yield SimulatorHandle(url, schedulerx_simulator_config.credentials[0], simulator)
    finally:
        simulator.stop()


def simulator_config_for(plan: Plan, *, quota: Rate | None = None) -> SimulatorConfig:
    """A simulator config holding exactly `plan`'s jobs, with one key (``test-key``), its
    RerunJob quota at `quota` (default: the plan's rate) and instances that finish at once."""
    import dataclasses  # noqa: PLC0415 keep plugin import cheap

    from .run._simulate import simulator_config_for as for_plan  # noqa: PLC0415
    from .schedulerx import Credentials  # noqa: PLC0415

    config = for_plan(plan, Credentials("test-key", "test-secret"), quota or plan.execution.rate)
    return dataclasses.replace(config, instance_run_seconds=0.0)


@dataclass
class RerunHarness:
    """What ``rerun_harness`` yields: a simulator and everything `run_plan` needs to use it.

    Attributes:
        simulator: the running `Simulator` (``calls()``, ``counters()``, ``instances()``).
        url: its base URL.
        clock: the `FakeClock` shared by the simulator, the client and the runs.
        credentials: the simulator's first key, as a ready provider.
        client: a `SchedulerXClient` signed with it, pointed at the simulator.
        accounts: an `AccountRegistry` of the test's own (nothing shared between tests).
        account: the account name of the key (its AccessKey ID).
    """

    simulator: Simulator
    url: str
    clock: FakeClock
    credentials: StaticCredentialsProvider
    client: SchedulerXClient
    accounts: AccountRegistry
    account: str

    def reconciler(self, plan: Plan) -> Reconciler:
        """A reconciler on the account's read pacer that checks at once (``settle_seconds=0``)."""
        return self.accounts.get(self.account, clock=self.clock).reconciler(
            self.client, timezone=plan.timezone, settle_seconds=0.0
        )

    def wiring(self, plan: Plan, journal: Any, **changes: Any) -> RunWiring:
        """`RunWiring` for a run of `plan` on `journal` against the simulator."""
        from .run import RunWiring  # noqa: PLC0415 keep plugin import cheap

        values: dict[str, Any] = {
            "client": self.client,
            "journal": journal,
            "reconciler": self.reconciler(plan),
            "account": self.account,
            "accounts": self.accounts,
            "clock": self.clock,
        }
        return RunWiring(**(values | changes))


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def rerun_harness(
        schedulerx_simulator_config: SimulatorConfig,
    ) -> AsyncIterator[RerunHarness]:
        """The simulator on a fake clock, and a client, reconciler and registry for it."""
        from .run import AccountRegistry  # noqa: PLC0415 keep plugin import cheap
        from .schedulerx import (  # noqa: PLC0415
            Credentials,
            SchedulerXClient,
            StaticCredentialsProvider,
        )
        from .simulator import Simulator  # noqa: PLC0415

        clock = FakeClock(wall_start=time.time())
        simulator = Simulator(schedulerx_simulator_config, clock=clock)
        url = await simulator.start("127.0.0.1", 0)
        key = schedulerx_simulator_config.credentials[0]
        provider = StaticCredentialsProvider(
            Credentials(key.access_key_id, key.access_key_secret, key.security_token)
        )
        try:
            async with SchedulerXClient(provider, endpoint=url, clock=clock) as client:
                yield RerunHarness(
                    simulator=simulator,
                    url=url,
                    clock=clock,
                    credentials=provider,
                    client=client,
                    accounts=AccountRegistry(clock=clock),
                    account=key.access_key_id,
                )
        finally:
            await simulator.stop()
