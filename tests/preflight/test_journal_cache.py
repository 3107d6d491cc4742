"""The pre-flight's facts kept in the run's journal: a resumed run asks SchedulerX only
about jobs it has not checked before (counted at the simulator's request log), a bad job
is never kept as good, a fact older than a day is asked again, and journals of schema 1
and 2 gain the table."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator.cli import main
from rerun_orchestrator.journal import JobFactsEntry, JobIdentity, MemoryJournal, SqliteJournal
from rerun_orchestrator.preflight import (
    FACTS_MAX_AGE_SECONDS,
    JobFacts,
    JobRef,
    JournalCache,
    Schedule,
)
from rerun_orchestrator.simulator import SimulatorConfig, SimulatorThread

KEY, SECRET = "pf-key", "pf-secret-canary-1234"
# not watching: the rerun instances are not these tests' subject, and each run waited for them
FAST = ["--read-rate", "100/s", "--no-progress", "--settle-seconds", "0", "--no-watch"]
REF = JobRef("cn-hangzhou", "ns-1", None, "g1", 7)


@pytest.fixture
def sim(make_world: Callable[..., SimulatorConfig]) -> Iterator[SimulatorThread]:
    thread = SimulatorThread(make_world())
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)


def run_counting(sim: SimulatorThread, plan: Path, journal: Path) -> tuple[int, Counter[str]]:
    """Run `plan` on `journal`: its exit code and the actions the simulator received."""
    before = len(sim.requests())
    code = main(["run", str(plan), "--endpoint", sim.url, "--journal", str(journal), *FAST])
    return code, Counter(r["action"] for r in sim.requests()[before:])


def recorded_jobs(journal: Path) -> dict[int, JobFactsEntry]:
    with SqliteJournal.open_readonly(journal) as j:
        return {job.job_id: entry for job, entry in j.job_facts().items()}


def test_a_resumed_run_asks_nothing_it_checked_and_a_new_job_only(
    sim: SimulatorThread, tmp_path: Path, write_targets: Callable[..., Path]
) -> None:
    journal = tmp_path / "j.sqlite"
    code, first = run_counting(sim, write_targets([{"jobs": [1, 2, 700]}]), journal)
    assert (code, first["GetJobInfo"]) == (0, 3)
    facts = recorded_jobs(journal)
    assert sorted(facts) == [1, 2, 700]
    assert facts[1].max_concurrency == 2
    assert facts[1].time_type == 1
    assert facts[1].expression == "0 30 2 * * ?"
    assert facts[1].professional is True
    assert facts[1].job == JobIdentity("cn-hangzhou", "ns-1", None, "g1", 1)

    code, again = run_counting(sim, write_targets([{"jobs": [1, 2, 700]}]), journal)
    assert (code, again["GetJobInfo"]) == (0, 0)

    code, grown = run_counting(sim, write_targets([{"jobs": [1, 2, 700, 800]}]), journal)
    assert (code, grown["GetJobInfo"]) == (0, 1)  # only the job added to the plan
    assert sorted(recorded_jobs(journal)) == [1, 2, 700, 800]
    assert recorded_jobs(journal)[800].time_type == 3


def test_a_bad_job_is_not_kept_and_is_asked_again(
    sim: SimulatorThread, tmp_path: Path, write_targets: Callable[..., Path]
) -> None:
    journal = tmp_path / "j.sqlite"
    plan = write_targets([{"jobs": [1, 21, 999]}])
    code, first = run_counting(sim, plan, journal)
    assert (code, first["GetJobInfo"], first["RerunJob"]) == (2, 3, 0)
    assert sorted(recorded_jobs(journal)) == [1]  # the good one only
    code, again = run_counting(sim, plan, journal)
    assert (code, again["GetJobInfo"], again["RerunJob"]) == (2, 2, 0)  # 21 and 999 again


def good(ref: JobRef = REF, *, enabled: bool = True, professional: bool | None = True) -> JobFacts:
    return JobFacts(ref, "job", enabled, 3, Schedule(1, "0 0 1 * * ?"), professional)


def test_a_fact_older_than_a_day_is_asked_again() -> None:
    clock = FakeClock()
    journal = MemoryJournal(clock=clock)
    cache = JournalCache(journal, clock=clock)
    assert cache.known(REF) is None
    cache.remember(good())
    cache.save()
    (entry,) = journal.job_facts().values()
    assert (entry.max_concurrency, entry.checked_at) == (3, clock.wall())
    clock.advance(FACTS_MAX_AGE_SECONDS)
    assert JournalCache(journal, clock=clock).known(REF) == good()  # a day old: still good
    clock.advance(1)
    assert JournalCache(journal, clock=clock).known(REF) is None


def test_a_job_known_good_then_found_bad_is_forgotten() -> None:
    clock = FakeClock()
    journal = MemoryJournal(clock=clock)
    other = JobRef("cn-hangzhou", "ns-1", "src", "g1", 8)
    cache = JournalCache(journal, clock=clock)
    cache.remember(good())
    cache.remember(good(other))
    cache.save()
    clock.advance(FACTS_MAX_AGE_SECONDS + 1)
    cache = JournalCache(journal, clock=clock)
    assert cache.known(REF) is None  # too old: the check asks again ...
    cache.remember(good(enabled=False))  # ... and finds it disabled: not kept as good
    assert cache.known(other) is None
    cache.remember(good(other, professional=False))
    cache.save()
    assert journal.job_facts() == {}


def make_v2(tmp_path: Path) -> Path:
    """A journal as schema 2 wrote it: no job_facts table, schema_version 2."""
    path = tmp_path / "v2.sqlite"
    with SqliteJournal.open(path, plan_name="p", plan_digest="d", timezone="UTC") as j:
        assert j.meta.schema_version == 3
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE job_facts")
        conn.execute("UPDATE meta SET value = 2 WHERE name = 'schema_version'")
    conn.close()
    return path


def test_a_v2_journal_gains_the_table_when_a_run_opens_it(tmp_path: Path) -> None:
    path = make_v2(tmp_path)
    with SqliteJournal.open_readonly(path) as j:  # status reads it as it is
        assert j.meta.schema_version == 2
        assert j.job_facts() == {}
        assert [p.name for p in j.plans()] == ["p"]
    clock = FakeClock()
    with SqliteJournal.open(path, plan_name="p", plan_digest="d", timezone="UTC") as j:
        assert j.meta.schema_version == 3
        cache = JournalCache(j, clock=clock)
        assert cache.known(REF) is None
        cache.remember(good())
        cache.save()
    with sqlite3.connect(path) as conn:
        version = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    conn.close()
    assert version == (3,)
    with SqliteJournal.open_readonly(path) as j:
        assert JournalCache(j, clock=clock).known(REF) == good()
