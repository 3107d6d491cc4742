"""A `Simulator` on its own event loop in a background thread, for synchronous code.

A synchronous test (or a service under test that uses a blocking SDK) cannot serve HTTP
from the loop it blocks; this runs the simulator where it can keep answering. Every
inspection method hops onto the simulator's loop, so reads never race its handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import Any, TypeVar

from .._clock import Clock
from ._config import SimulatorConfig
from ._faults import FaultRule
from ._server import Simulator

_T = TypeVar("_T")
_START_TIMEOUT_S = 30.0


class SimulatorThread:
    """Runs a `Simulator` in a daemon thread; `start()` returns once it accepts connections.

    Usage::

        with SimulatorThread(SimulatorConfig.default()) as sim:
            blocking_client(endpoint=sim.endpoint).rerun(...)
            assert len(sim.calls()) == 1
    """

    def __init__(self, config: SimulatorConfig, *, clock: Clock | None = None) -> None:
        self.simulator = Simulator(config, clock=clock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return self.simulator.url

    @property
    def endpoint(self) -> str:
        return self.simulator.endpoint

    @property
    def config(self) -> SimulatorConfig:
        return self.simulator.config

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start the thread and the server; returns the base URL. Raises what start() raised."""
        if self._thread is not None:
            raise RuntimeError("the simulator thread is already started")
        started: Future[str] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(host, port, started), name="schedulerx-simulator", daemon=True
        )
        self._thread.start()
        try:
            return started.result(timeout=_START_TIMEOUT_S)
        except BaseException:
            self._thread.join(timeout=_START_TIMEOUT_S)
            self._thread = None
            raise

    def stop(self) -> None:
        """Stop the server and join the thread. Idempotent."""
        thread, loop, stop = self._thread, self._loop, self._stop
        self._thread = None
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            # The loop may have finished between the read above and this call.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        thread.join()

    def __enter__(self) -> SimulatorThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, host: str, port: int, started: Future[str]) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                url = await self.simulator.start(host, port)
            except BaseException as exc:
                started.set_exception(exc)
                return
            started.set_result(url)
            try:
                await self._stop.wait()
            finally:
                await self.simulator.stop()

        asyncio.run(main())

    def _on_loop(self, fn: Callable[[], _T]) -> _T:
        loop = self._loop
        if loop is None or self._thread is None:
            raise RuntimeError("the simulator thread is not started")

        async def call() -> _T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result()

    def calls(self) -> list[dict[str, Any]]:
        return self._on_loop(self.simulator.calls)

    def instances(self, job_id: int | None = None) -> list[dict[str, Any]]:
        return self._on_loop(lambda: self.simulator.instances(job_id))

    def retries(self) -> list[dict[str, Any]]:
        return self._on_loop(self.simulator.retries)

    def skipped(self) -> list[dict[str, Any]]:
        return self._on_loop(self.simulator.skipped)

    def peaks(self, trigger_type: int | None = None) -> dict[str, Any]:
        return self._on_loop(lambda: self.simulator.peaks(trigger_type))

    def counters(self) -> dict[str, Any]:
        return self._on_loop(self.simulator.counters)

    def requests(self) -> list[dict[str, Any]]:
        return self._on_loop(self.simulator.requests)

    def faults(self) -> list[dict[str, Any]]:
        return self._on_loop(self.simulator.faults)

    def set_faults(self, faults: Iterable[FaultRule | Mapping[str, Any]]) -> None:
        rules = list(faults)
        self._on_loop(lambda: self.simulator.set_faults(rules))

    def reset(self) -> None:
        self._on_loop(self.simulator.reset)

    def __repr__(self) -> str:
        return f"SimulatorThread({self.simulator!r})"
