"""A journal lost under a run, or after a kill -9, never makes a day rerun twice: the run
notices and stops, and a run on a new journal asks the server what was already rerun."""

from __future__ import annotations

import signal
import time
from datetime import date
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

START, DAYS = date(2024, 1, 1), 30


def wait_for_calls(sim, n: int, proc) -> None:
    deadline = time.monotonic() + 30
    while len(sim.calls()) < n and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)


def test_a_journal_deleted_mid_run_stops_it_and_nothing_is_sent_twice(e2e) -> None:
    sim = e2e.simulator()
    jobs = [1, 2, 3]
    plan = e2e.plan("deleted", jobs, start=START, days=DAYS, chunk_days=2, rate="20/s")
    journal = e2e.tmp / "deleted.sqlite"
    proc = e2e.launch(*e2e.run_args(plan, sim.url, journal))
    wait_for_calls(sim, 5, proc)
    journal.unlink()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err[-3000:]
    assert "was deleted while this run was writing it" in err
    sent = len(sim.calls())
    assert sent < 45  # it stopped, long before the end
    resumed = e2e.run(*e2e.run_args(plan, sim.url, journal))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "already rerun on the server" in resumed.stdout
    e2e.assert_exactly_once(sim, jobs, START, DAYS)


@pytest.mark.parametrize("lost", ["wal", "torn wal", "journal"])
def test_after_a_kill_9_a_lost_wal_or_journal_is_caught_by_the_server(e2e, lost: str) -> None:
    sim = e2e.simulator()
    jobs = [4, 5]
    name = f"kill-{lost.replace(' ', '-')}"
    plan = e2e.plan(name, jobs, start=START, days=DAYS, chunk_days=3, rate="20/s")
    journal = e2e.tmp / f"{name}.sqlite"
    proc = e2e.launch(*e2e.run_args(plan, sim.url, journal))
    wait_for_calls(sim, 6, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    wal = Path(f"{journal}-wal")
    if lost == "wal":
        for suffix in ("-wal", "-shm"):
            Path(f"{journal}{suffix}").unlink(missing_ok=True)
    elif lost == "torn wal" and wal.exists():
        with wal.open("r+b") as file:  # a torn write: the log's tail is lost
            file.truncate(wal.stat().st_size // 2)
    else:
        for path in journal.parent.glob(f"{journal.name}*"):
            path.unlink()
    resumed = e2e.run(*e2e.run_args(plan, sim.url, journal))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    e2e.assert_exactly_once(sim, jobs, START, DAYS)


def test_files_that_are_not_journals_are_refused_and_nothing_is_sent(e2e) -> None:
    sim = e2e.simulator()
    plan = e2e.plan("refused", [6], start=START, days=4)
    empty = e2e.tmp / "empty.sqlite"
    empty.write_bytes(b"")
    result = e2e.run(*e2e.run_args(plan, sim.url, empty))
    assert result.returncode == 2
    assert f"{empty} is empty, not a journal" in result.stderr
    assert sim.calls() == []
