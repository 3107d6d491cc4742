"""The simulator's lifecycle: `Simulator` (in-process, for tests and ``run --simulate``)
and `serve` (what ``rerun-orchestrator simulate`` runs until SIGINT or SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from aiohttp import web

from .._clock import Clock, SystemClock
from ._app import build_app
from ._config import SimulatorConfig
from ._faults import FaultRule
from ._gateway import Gateway

# How long stop() lets in-flight answers finish before cancelling them.
_SHUTDOWN_TIMEOUT_S = 1.0


class Simulator:
    """A SchedulerX that runs on a loopback port, inside the current event loop.

    Usage::

        async with Simulator(SimulatorConfig(jobs=...)) as sim:
            ...  # point a client at sim.url
            assert len(sim.calls()) == 1

    Args:
        config: what the service holds and how it behaves.
        clock: time for signatures, schedule times, instance progress and quotas
            (default: the system clock). Slow answers sleep on it too.
    """

    def __init__(self, config: SimulatorConfig, *, clock: Clock | None = None) -> None:
        self.config = config
        self._clock: Clock = clock or SystemClock()
        self._gateway = Gateway(config, self._clock)
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._sleepers: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:PORT``; only while started."""
        if self._url is None:
            raise RuntimeError("the simulator is not started")
        return self._url

    @property
    def endpoint(self) -> str:
        """``HOST:PORT``, the form the official SDK's ``Config.endpoint`` takes."""
        return self.url.removeprefix("http://")

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on `host`:`port` (0: a free port) and return the base URL."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already started")
        app = build_app(self._gateway, self._sleep)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT_S)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        self._url = base_url(bound_host, bound_port)
        return self._url

    async def stop(self) -> None:
        """Stop listening; slow answers still sleeping are sent at once. Idempotent."""
        runner, self._runner, self._url = self._runner, None, None
        for task in list(self._sleepers):
            task.cancel()
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _sleep(self, seconds: float) -> None:
        task = asyncio.ensure_future(self._clock.sleep(seconds))
        self._sleepers.add(task)
        try:
            await asyncio.wait({task})
        finally:
            task.cancel()
            self._sleepers.discard(task)

    # -- inspection and control (same data as the /_simulator/ routes) ---------------

    def calls(self) -> list[dict[str, Any]]:
        """Every accepted RerunJob call, oldest first (``GET /_simulator/calls``)."""
        return self._gateway.calls()

    def instances(self, job_id: int | None = None) -> list[dict[str, Any]]:
        """Every instance the simulator knows (of `job_id`), with its status now."""
        return self._gateway.instances(job_id)

    def retries(self) -> list[dict[str, Any]]:
        """Every accepted RetryJobInstance: instance id, its new attempt, whether rejected."""
        return self._gateway.retries()

    def peaks(self, trigger_type: int | None = None) -> dict[str, Any]:
        """Most instances active (waiting or running) and running at once, per job and per
        group, over the simulator's life (``GET /_simulator/peaks?trigger_type=2``)."""
        return self._gateway.peaks(trigger_type)

    def skipped(self) -> list[dict[str, Any]]:
        """Scheduled production runs skipped because the job was busy (``/_simulator/skipped``)."""
        return self._gateway.skipped()

    def counters(self) -> dict[str, Any]:
        """Per API: requests, accepted, business_failures, rejected, throttled, faults."""
        return self._gateway.counters()

    def requests(self) -> list[dict[str, Any]]:
        """The latest API requests (up to 10 000): action, key, status, code, fault."""
        return self._gateway.requests()

    def faults(self) -> list[dict[str, Any]]:
        """The fault rules with how often each fired and the budget left."""
        return self._gateway.faults()

    def set_faults(self, faults: Iterable[FaultRule | Mapping[str, Any]]) -> None:
        """Replace the fault rules (an empty list turns faults off)."""
        self._gateway.set_faults(
            rule if isinstance(rule, FaultRule) else FaultRule.from_mapping(rule) for rule in faults
        )

    def reset(self) -> None:
        """Forget instances, calls, counters, quota use and nonces; re-arm the faults."""
        self._gateway.reset()

    def __repr__(self) -> str:
        where = self._url or "stopped"
        return f"Simulator({where}, jobs={len(self.config.jobs)} specs)"


def base_url(bound_host: str, port: int) -> str:
    """The URL that reaches a server bound to `bound_host` from this machine.

    A wildcard address (``0.0.0.0``, ``::``) is no destination: the loopback address of
    its family is, and it is also what `run --endpoint` accepts for plaintext HTTP.
    """
    shown = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(  # noqa: S104
        bound_host, bound_host
    )
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


async def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    config_path: str | Path | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM: print the base URL as the first stdout line, then wait.

    Raises:
        SimulatorConfigError: the config file is missing or invalid (nothing served).
        OSError: the address cannot be bound.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    config = SimulatorConfig.from_yaml(config_path) if config_path else SimulatorConfig.default()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stopping.set)
    try:
        async with contextlib.AsyncExitStack() as stack:
            simulator = Simulator(config)
            url = await simulator.start(host, port)
            stack.push_async_callback(simulator.stop)
            print(url, file=out, flush=True)
            if host in ("0.0.0.0", "::", ""):  # noqa: S104
                port_part = url.rpartition(":")[2]
                print(
                    f"listening on every interface: {url} from this machine, "
                    f"http://{socket.gethostname()}:{port_part} from others (run sends "
                    "plaintext only to loopback: reach it through a tunnel or port mapping)",
                    file=err,
                )
            keys = ", ".join(c.access_key_id for c in config.credentials)
            source = config_path or "the default config"
            print(f"simulator serving {source} (AccessKeys: {keys}); stop with Ctrl-C", file=err)
            await stopping.wait()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
