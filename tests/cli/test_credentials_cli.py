"""Credentials on the command line: `--profile NAME` as `aliyun --profile`, and "no
credentials" as one message, one line per source of the chain, never a library's traceback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from rerun_orchestrator.cli import ExitCode, main
from rerun_orchestrator.simulator import CredentialSpec, JobSpec, SimulatorConfig, SimulatorThread

ROOT = Path(__file__).resolve().parents[2]
PLAN = """\
version: 1
name: creds
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns-1
group: g1
data_time: "10:00:00"
targets:
  - jobs: [1]
    windows: [{start: 2024-01-01, end: 2024-01-02}]
execution: {rate: 50/s}
"""


@pytest.fixture
def plan(tmp_path: Path) -> str:
    path = tmp_path / "creds.yaml"
    path.write_text(PLAN)
    return str(path)


def aliyun_config(home: Path, *profiles: tuple[str, str, str], current: str) -> None:
    config = {
        "current": current,
        "profiles": [
            {"name": n, "mode": "AK", "access_key_id": i, "access_key_secret": s}
            for n, i, s in profiles
        ],
    }
    (home / ".aliyun").mkdir()
    (home / ".aliyun" / "config.json").write_text(json.dumps(config))


def test_profile_picks_that_profile_over_the_environment_and_the_current_one(
    start_simulator: Callable[[SimulatorConfig], SimulatorThread],
    hermetic_environment: Path,
    plan: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sim = start_simulator(
        SimulatorConfig(
            credentials=(CredentialSpec("id-b", "secret-b"),),  # only profile b's keys work
            # MaxConcurrency above 1: production first would otherwise hold the rerun in the
            # minutes before the default schedule's run (midnight, Shanghai time)
            jobs=(JobSpec("cn-hangzhou", "ns-1", "g1", ((1, 1),), max_concurrency=1000),),
            instance_wait_seconds=0.0,
            instance_run_seconds=0.0,
        )
    )
    aliyun_config(
        hermetic_environment, ("a", "id-a", "secret-a"), ("b", "id-b", "secret-b"), current="a"
    )
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "id-env")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret-env")
    monkeypatch.setenv("ALIBABA_CLOUD_PROFILE", "a")
    check = ["check", plan, "--endpoint", sim.url, "--no-progress"]
    assert main([*check, "--profile", "b"]) == ExitCode.OK
    assert main(check) == ExitCode.USAGE  # the environment's keys: refused by the server
    journal = str(tmp_path / "j.sqlite")
    run = ["run", plan, "--endpoint", sim.url, "--journal", journal, "--no-progress"]
    assert main([*run, "--no-watch", "--profile", "b"]) == ExitCode.OK
    assert {c["access_key_id"] for c in sim.calls()} == {"id-b"}
    capsys.readouterr()
    assert main([*run, "--profile", "nobody"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "no profile 'nobody'" in err
    assert "no such file" in err  # the credentials file has no [nobody] either
    assert "id-env" not in err


@pytest.mark.parametrize("verb", ["run", "check"])
def test_profile_means_nothing_to_the_simulator(
    verb: str, plan: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([verb, plan, "--simulate", "--profile", "b"]) == ExitCode.USAGE
    assert "--profile chooses real credentials" in capsys.readouterr().err


def test_no_credentials_is_one_message_with_a_line_per_source(
    hermetic_environment: Path, plan: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = str(tmp_path / "j.sqlite")
    assert main(["run", plan, "--journal", journal, "--no-progress"]) == ExitCode.USAGE
    home = hermetic_environment
    assert capsys.readouterr().err.splitlines() == [
        "rerun-orchestrator run: no credentials found:",
        "  environment: ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"
        " are not set",
        f"  aliyun CLI config {home}/.aliyun/config.json: no such file",
        f"  credentials file {home}/.alibabacloud/credentials.ini: no such file",
        "  ECS instance RAM role: not tried (ALIBABA_CLOUD_ECS_METADATA_DISABLED=true)",
    ]


# The official library adds its own stderr handler at import and logs each failure with
# its traceback; its failing step must become one line of our message and nothing else.
PROBE = """
import anyio
from alibabacloud_credentials.provider import URLCredentialsProvider
from rerun_orchestrator.schedulerx import CredentialsError, EnvironmentCredentialsProvider
from rerun_orchestrator.schedulerx._aliyun import AliyunCredentialsProvider
from rerun_orchestrator.schedulerx._credentials import ChainCredentialsProvider

chain = ChainCredentialsProvider(
    EnvironmentCredentialsProvider({}),
    AliyunCredentialsProvider(
        lambda: URLCredentialsProvider(uri=URI), name="credentials URI", absent_is_not_found=True
    ),
)
try:
    anyio.run(chain.get_credentials)
except CredentialsError as exc:
    print(exc)
"""


@pytest.mark.slow
def test_a_failing_library_step_prints_no_traceback(tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port nobody listens on: refused at once
        closed.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{closed.getsockname()[1]}/"
    code = f"URI = {uri!r}\n" + textwrap.dedent(PROBE)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0] == "no credentials found:"
    assert lines[1].startswith("  environment: ")
    assert lines[2].startswith("  credentials URI: ")
    assert len(lines) == 3
