"""Fixtures shared by the CLI tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from rerun_orchestrator.simulator import SimulatorConfig, SimulatorThread


@pytest.fixture
def start_simulator() -> Iterator[Callable[[SimulatorConfig], SimulatorThread]]:
    """Start a simulator in a background thread (its state outlives each `main` call);
    every one started is stopped when the test ends."""
    started: list[SimulatorThread] = []

    def start(config: SimulatorConfig) -> SimulatorThread:
        thread = SimulatorThread(config)
        thread.start()
        started.append(thread)
        return thread

    yield start
    for thread in started:
        thread.stop()
