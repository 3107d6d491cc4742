"""Test doubles for rerun-orchestrator and for the services that embed it.

Registered as a pytest plugin (entry point ``pytest11``), so in any project that has
rerun-orchestrator installed these fixtures are available without an import:

- ``schedulerx_simulator``: an async fixture (needs pytest-asyncio) that starts a
  `Simulator` on the test's event loop and yields a `SimulatorHandle`;
- ``schedulerx_simulator_sync``: the same served from a background thread, for
  synchronous tests and blocking clients;
- ``schedulerx_simulator_config`` / ``schedulerx_simulator_clock``: override them in a
  ``conftest.py`` (or a test module) to choose what the simulator holds and its clock.

pytest imports this module at startup for every run, so it stays cheap: only fixture
definitions live here and the simulator is imported inside them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from ._clock import Clock, FakeClock

if TYPE_CHECKING:
    from .simulator import CredentialSpec, Simulator, SimulatorConfig
    from .simulator._thread import SimulatorThread

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the async fixture then simply does not exist
    pytest_asyncio = None  # type: ignore[assignment]

__all__ = ["FakeClock", "SimulatorHandle"]


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
