"""A journal written by the first release (schema 1) upgrades in place and resumes with
nothing resent. The fixture was made by the released code itself (commit dcbf4e8,
`tests/journal/fixtures/make_v1.py`): job 1 done, job 2 two chunks done, one refused
(failed), one pending."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from rerun_orchestrator.journal import ChunkStatus, SqliteJournal

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent.parent / "journal" / "fixtures"


def v1_copy(tmp: Path) -> Path:
    journal = tmp / "v1.sqlite"
    shutil.copyfile(FIXTURES / "v1-journal.sqlite", journal)
    with sqlite3.connect(journal) as conn:
        assert conn.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone() == (1,)
    return journal


def test_a_v1_journal_reads_before_and_after_its_upgrade(tmp_path) -> None:
    journal = v1_copy(tmp_path)
    with SqliteJournal.open_readonly(journal) as j:  # status reads it as it is
        assert j.meta.schema_version == 1
        assert sum(1 for r in j.records() if r.status is ChunkStatus.SUCCEEDED) == 6
    with SqliteJournal.open(
        journal, plan_name="v1-plan", plan_digest="x", timezone="Asia/Shanghai"
    ) as j:
        assert j.meta.schema_version == 3
        assert j.job_facts() == {}  # the pre-flight's table is there, empty
        records = list(j.records())
        assert {r.plan for r in records} == {"v1-plan"}
        assert [r.status for r in records].count(ChunkStatus.SUCCEEDED) == 6
    with sqlite3.connect(journal) as conn:
        assert conn.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone() == (3,)


def test_a_v1_journal_resumes_with_nothing_resent(e2e, tmp_path) -> None:
    sim = e2e.simulator()
    journal = v1_copy(tmp_path)
    plan = FIXTURES / "v1.yaml"
    report = tmp_path / "report.json"
    first = e2e.run(*e2e.run_args(plan, sim.url, journal, "--report", str(report)))
    assert first.returncode == 1, first.stderr[-3000:]  # the refused chunk is still failed
    calls = sim.calls()
    assert [(c["job_id"], c["start_date"] == c["end_date"]) for c in calls] == [(2, True)]
    data = json.loads(report.read_text())
    assert data["counts"] == {"total": 8, "succeeded": 7, "failed": 1, "unknown": 0, "pending": 0}
    retried = e2e.run(*e2e.run_args(plan, sim.url, journal, "--retry-failed"))
    assert retried.returncode == 0, retried.stderr[-3000:]
    assert len(sim.calls()) == 2  # only the refused chunk, once
    again = e2e.run(*e2e.run_args(plan, sim.url, journal))
    assert again.returncode == 0
    assert len(sim.calls()) == 2
