"""`run`'s options are checked before anything is opened or sent: one line, exit 2.

The simulator (a thread on 127.0.0.1) records every RerunJob it accepts, so "nothing sent"
is its word, not ours; "nothing opened" is the journal and its log file not existing.
"""

# ruff: noqa: E501

from __future__ import annotations

import contextlib
import io
import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rerun_orchestrator.cli import main
from rerun_orchestrator.simulator import CredentialSpec, JobSpec, SimulatorConfig, SimulatorThread

KEY, SECRET = "opt-key", "opt-secret-5b1e"
PLAN = """\
version: 1
name: options
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns-1
group: g1
data_time: "10:00:00"
targets:
  - jobs: [1]
    windows: [{start: 2024-01-01, end: 2024-01-03}]
execution: {rate: 50/s}
"""
CONFIG = SimulatorConfig(
    credentials=(CredentialSpec(KEY, SECRET),),
    jobs=(JobSpec("cn-hangzhou", "ns-1", "g1", ((1, 1),), max_concurrency=100),),
    # no quota at all: 80 fuzzed runs in a row would drain GetJobInfo's 100/min and each
    # pre-flight would then back off (options, not throttling, are tested here)
    quota={},
    default_quota=None,
    instance_wait_seconds=0.0,
    instance_run_seconds=0.0,
)


@pytest.fixture
def sim(
    start_simulator: Callable[[SimulatorConfig], SimulatorThread],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> SimulatorThread:
    for name in ("ALIBABA_CLOUD_SECURITY_TOKEN", "ALIBABA_CLOUD_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    monkeypatch.setenv("HOME", str(tmp_path))
    return start_simulator(CONFIG)


class Runner:
    """Runs `run` in-process on a fresh journal each time; says what it opened and sent."""

    def __init__(self, tmp: Path, sim: SimulatorThread) -> None:
        self.plan = tmp / "plan.yaml"
        self.plan.write_text(PLAN)
        self.tmp, self.sim = tmp, sim

    numbers = itertools.count()  # one journal per call, across hypothesis examples too

    def __call__(self, *options: str) -> tuple[int, str, Path]:
        journal = self.tmp / f"j{next(self.numbers)}.sqlite"
        argv = ["run", str(self.plan), "--endpoint", self.sim.url, "--journal", str(journal)]
        argv += ["--lookback", "0"]  # a fresh journal sends its days again: one call each
        # The watch of the instant instances reads at once, not at 100/min after a 1 s poll
        # (3 s a run); before `options`, so a fuzzed --read-rate still wins (the last does).
        argv += ["--read-rate", "1000/s", "--watch-poll", "0.05"]
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main([*argv, "--no-progress", *options])
        return code, err.getvalue(), journal


def assert_refused(code: int, err: str, journal: Path, sent_before: int, sim: SimulatorThread):
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    if not lines[0].startswith("rerun-orchestrator run: "):  # --log-format json refusals
        assert json.loads(lines[0])["event"] == "rerun.run.refused", err
    assert not journal.exists()
    assert not journal.with_name(journal.name + ".log.jsonl").exists()
    assert len(sim.calls()) == sent_before


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--timeout", "inf"], "argument --timeout: expected a number of seconds from 0.1 to 3600, not 'inf'"),
        (["--timeout", "nan"], "argument --timeout: expected a number of seconds from 0.1 to 3600, not 'nan'"),
        (["--timeout", "-1"], "argument --timeout: expected a number of seconds from 0.1 to 3600, not '-1'"),
        (["--timeout", "0"], "argument --timeout: expected a number of seconds from 0.1 to 3600, not '0'"),
        (["--timeout", "1e400"], "argument --timeout: expected a number of seconds from 0.1 to 3600, not '1e400'"),
        (["--max-chunks", "0"], "argument --max-chunks: max_chunks must be an integer from 1 to 10,000,000, not 0"),
        (["--concurrency", "10000000"], "argument --concurrency: concurrency must be an integer from 1 to 1,000, not 10,000,000"),
        (["--concurrency", "many"], "argument --concurrency: expected an integer from 1 to 1,000, not 'many'"),
        (["--rate", "0/s"], "argument --rate: rate '0/s' must be more than zero calls"),
        (["--rate", "1000000/s"], "argument --rate: rate '1000000/s' is above the maximum of 100,000/s"),
        (["--rate", "fast"], "argument --rate: rate 'fast' is not a rate: write N/s, N/min or N/h (N may be a decimal, e.g. 100/min or 1.5/s)"),
        (["--settle-seconds", "-1"], "argument --settle-seconds: expected a number of seconds from 0 to 3600, not '-1'"),
        (["--simulate-quota", "5/s"], "--simulate-quota is the quota of the built-in simulator: it needs --simulate"),
    ],
)  # fmt: skip
def test_each_bad_option_is_one_line_exit_2_nothing_opened_or_sent(
    sim: SimulatorThread, tmp_path: Path, options: list[str], message: str
) -> None:
    run = Runner(tmp_path, sim)
    code, err, journal = run(*options)
    assert_refused(code, err, journal, 0, sim)
    assert message in err


def test_host_port_of_a_loopback_host_means_http(sim: SimulatorThread, tmp_path: Path) -> None:
    run = Runner(tmp_path, sim)
    code, err, _ = run("--endpoint", sim.url.removeprefix("http://"))  # last --endpoint wins
    assert code == 0, err
    assert len(sim.calls()) == 1
    code, err, journal = run("--endpoint", "schedulerx.example.com")
    assert_refused(code, err, journal, 1, sim)
    assert (
        "argument --endpoint: 'schedulerx.example.com' has no scheme: write "
        "https://schedulerx.example.com (or HOST:PORT for 127.0.0.1, ::1 or localhost, "
        "which means http://)"
    ) in err


_HOSTILE = [
    "inf", "-inf", "nan", "NaN", "-1", "0", "-0", "1e400", "1e-400", "10000000", "", " ",
    "abc", "0x10", "9" * 40, "1/0", "0/s", "inf/s", "1e9/s", "-5/min", "5/", "/s", "5/m",
    "https://u:p@127.0.0.1:1", "ftp://127.0.0.1", "http://example.com", "127.0.0.1:99999",
    "[::1", "https://h/path", "localhost:", "\x00", "\u00e9",
]  # fmt: skip
# Each flag with values valid for it; any flag may also get a hostile value or any text.
_VALID = {
    "--timeout": ["5", "0.5", "3600"],
    "--concurrency": ["1", "3", "1000"],
    "--max-chunks": ["1", "10000000"],
    "--rate": ["10/s", "100/min", "100000/s"],
    "--read-rate": ["100/min"],
    "--settle-seconds": ["0", "0.2"],
    "--simulate-quota": ["5/s"],  # never valid here: it needs --simulate
    "--endpoint": ["https://u:p@example.com"],  # never valid either
    "--log-format": ["json", "console"],
    "--journal-sync": ["full", "normal"],
}
_OPTION = st.sampled_from(sorted(_VALID)).flatmap(
    lambda flag: st.tuples(
        st.just(flag),
        st.one_of(
            st.sampled_from(_VALID[flag]),
            st.sampled_from(_HOSTILE),
            st.text(alphabet="0123456789.-+e/sminfa:", max_size=7),
        ),
    )
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(_OPTION, min_size=1, max_size=4))
def test_any_options_run_or_are_refused_cleanly(
    sim: SimulatorThread, tmp_path: Path, options: list[tuple[str, str]]
) -> None:
    run = Runner(tmp_path, sim)
    sent = len(sim.calls())
    argv = [part for flag, value in options for part in (flag, value)]
    code, err, journal = run(*argv)
    event(f"exit {code}")
    if code == 2:
        assert_refused(code, err, journal, sent, sim)
    else:  # every option was valid: the plan ran, one call for its one chunk
        assert code == 0, (argv, err)
        assert len(sim.calls()) == sent + 1


def test_run_suggests_the_region_it_cannot_reach(sim: SimulatorThread, tmp_path: Path) -> None:
    plan = tmp_path / "typo.yaml"
    plan.write_text(PLAN.replace("cn-hangzhou", "cn-hangzou"))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["run", str(plan), "--journal", str(tmp_path / "j.sqlite"), "--no-progress"])
    assert code == 2
    assert (
        "region 'cn-hangzou' is not in the SchedulerX endpoint map; did you mean" in err.getvalue()
    )
    assert not (tmp_path / "j.sqlite").exists()
    assert sim.calls() == []
