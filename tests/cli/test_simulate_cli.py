"""`rerun-orchestrator simulate`: URL first on stdout, serves, stops cleanly on signals."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
URL = re.compile(r"^http://127\.0\.0\.1:(\d+)$")


def _get(url: str) -> object:
    # No proxy: the simulator is on loopback and the test must never leave it.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as resp:
        return json.loads(resp.read())


def _first_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    assert ready, "the simulator printed nothing within 30 s"
    return proc.stdout.readline().strip()


@pytest.fixture
def simulate() -> Iterator[list[subprocess.Popen[str]]]:
    """Start `simulate` subprocesses; any still running at the end are killed."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def _start(procs: list[subprocess.Popen[str]], *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rerun_orchestrator", "simulate", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_PROXY": "127.0.0.1"},
    )
    procs.append(proc)
    return proc


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_prints_url_serves_and_stops_on_signal(
    simulate: list[subprocess.Popen[str]], signum: int
) -> None:
    proc = _start(simulate)
    url = _first_line(proc)
    assert URL.match(url), url
    assert _get(f"{url}/_simulator/calls") == []
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out == ""  # the URL was the only stdout line
    assert "Traceback" not in err


def test_serves_a_config_file(simulate: list[subprocess.Popen[str]], tmp_path: Path) -> None:
    config = tmp_path / "sim.yaml"
    config.write_text(
        "server_timezone: Europe/London\n"
        "credentials:\n  - {access_key_id: mine, access_key_secret: s}\n"
        "jobs:\n  - {region: eu-west-1, namespace: n, group: g, job_ids: ['1-5']}\n"
    )
    proc = _start(simulate, "--config", str(config))
    url = _first_line(proc)
    assert _get(f"{url}/_simulator/counters") == {
        "_totals": {"calls": 0, "instances": 0, "retries": 0, "skipped": 0}
    }
    proc.terminate()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "mine" in err
    assert " s)" not in err  # key ids only, never secrets


def test_a_bad_config_is_a_usage_error(
    simulate: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("quota: {RerunJob: lots}\n")
    proc = _start(simulate, "--config", str(config))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert out == ""
    assert "quota.RerunJob" in err
    assert "bad.yaml" in err
