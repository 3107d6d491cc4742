"""StopRequests: the command's signal handlers, installed before any work."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from rerun_orchestrator.run._stop import StopRequests


def test_signals_before_the_loop_are_counted_then_delivered_in_order(
    capfd: pytest.CaptureFixture[str],
) -> None:
    requests = StopRequests()
    requests.install()
    try:
        os.kill(os.getpid(), signal.SIGTERM)  # during start-up: only counted
        assert (requests.requested, requests.count, requests.last) == (True, 1, signal.SIGTERM)
        seen: list[str] = []

        async def main() -> None:
            requests.attach(lambda: seen.append("graceful"), lambda: seen.append("forced"))
            await asyncio.sleep(0)
            assert seen == ["graceful"]
            os.kill(os.getpid(), signal.SIGINT)
            await asyncio.sleep(0.01)

        asyncio.run(main())
        assert seen == ["graceful", "forced"]
    finally:
        requests.restore()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert capfd.readouterr().err.count("press Ctrl-C again to stop at once") == 1


def test_no_hint_when_stderr_carries_json_lines(capfd: pytest.CaptureFixture[str]) -> None:
    requests = StopRequests(announce=False)
    requests.install()
    try:
        os.kill(os.getpid(), signal.SIGINT)
    finally:
        requests.restore()
    assert requests.requested
    assert capfd.readouterr().err == ""
