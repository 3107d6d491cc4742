"""A journal is never silently new, and one deleted or replaced under a run stops it."""

from __future__ import annotations

import os
import sqlite3
from datetime import date

import pytest

from rerun_orchestrator.journal import (
    ChunkStatus,
    JournalError,
    JournalReplacedError,
    SqliteJournal,
)

D0 = date(2024, 1, 1)


def _open(path, **kw) -> SqliteJournal:
    return SqliteJournal.open(path, plan_name="p", plan_digest="d", timezone="Asia/Shanghai", **kw)


def test_an_empty_file_is_refused_and_left_as_it_is(tmp_path) -> None:
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"")
    with pytest.raises(JournalError, match=f"{path} is empty, not a journal"):
        _open(path)
    assert path.read_bytes() == b""
    with pytest.raises(JournalError, match="is empty"):
        SqliteJournal.open_readonly(path)


def test_a_foreign_sqlite_database_is_refused_untouched(tmp_path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER)")
    with pytest.raises(JournalError, match="SQLite database but not a rerun-orchestrator journal"):
        _open(path)
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert tables == {"users"}  # nothing was created in it
    _open(tmp_path / "fresh.sqlite").close()  # the refusal released the lock


def test_a_wal_without_its_journal_is_refused(tmp_path) -> None:
    path = tmp_path / "j.sqlite"
    (tmp_path / "j.sqlite-wal").write_bytes(b"x" * 100)
    with pytest.raises(JournalError, match="missing but its write-ahead log"):
        _open(path)
    assert not path.exists()


def test_a_new_journal_is_complete_from_the_start(tmp_path) -> None:
    path = tmp_path / "sub" / "j.sqlite"
    _open(path).close()
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []
    with SqliteJournal.open_readonly(path) as j:
        assert j.meta.schema_version == 3
        assert [p.name for p in j.plans()] == ["p"]


@pytest.mark.asyncio
async def test_outcomes_reach_the_main_file_at_close(tmp_path, chunk) -> None:
    path = tmp_path / "j.sqlite"
    c = chunk(1, D0)
    with _open(path) as j:
        j.propose(c, plan="p", timezone="Asia/Shanghai")
        await j.mark_in_flight(c.key, 1.0)
        j.record_outcome(c.key, ChunkStatus.SUCCEEDED, request_id="R")
    wal = tmp_path / "j.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed: the file holds it
    if wal.exists():
        wal.unlink()
    with SqliteJournal.open_readonly(path) as j:
        record = j.get(c.key)
        assert record is not None
        assert record.status is ChunkStatus.SUCCEEDED


@pytest.mark.asyncio
@pytest.mark.parametrize("how", ["deleted", "replaced", "lock deleted"])
async def test_a_journal_deleted_or_replaced_under_a_run_stops_it(tmp_path, chunk, how) -> None:
    path = tmp_path / "j.sqlite"
    first, second = chunk(1, D0), chunk(2, D0)
    j = _open(path)
    try:
        j.propose(first, plan="p", timezone="Asia/Shanghai")
        await j.mark_in_flight(first.key, 1.0)
        if how == "deleted":
            path.unlink()
        elif how == "replaced":
            _open(tmp_path / "other.sqlite").close()
            os.replace(tmp_path / "other.sqlite", path)
        else:
            (tmp_path / "j.sqlite.lock").unlink()
        j.propose(second, plan="p", timezone="Asia/Shanghai")
        with pytest.raises(JournalReplacedError, match=r"(this|the) run stops"):
            await j.mark_in_flight(second.key, 2.0)
        with pytest.raises(JournalError):  # and nothing more is written
            j.record_outcome(first.key, ChunkStatus.SUCCEEDED)
    finally:
        j.close()


@pytest.mark.asyncio
async def test_a_plan_whose_timezone_changed_after_covering_days_is_refused(
    tmp_path, chunk
) -> None:
    path = tmp_path / "j.sqlite"
    c = chunk(1, D0)
    with _open(path) as j:
        j.propose(c, plan="p", timezone="Asia/Shanghai")
        await j.mark_in_flight(c.key, 1.0)
        j.record_outcome(c.key, ChunkStatus.SUCCEEDED)
    with pytest.raises(JournalError, match=r"ran on journal .* in timezone Asia/Shanghai"):
        SqliteJournal.open(path, plan_name="p", plan_digest="d", timezone="Europe/Paris")
    # the same zone opens; another plan name may use another zone
    _open(path).close()
    SqliteJournal.open(path, plan_name="q", plan_digest="d", timezone="Europe/Paris").close()


def test_a_zone_change_before_anything_was_covered_is_accepted(tmp_path) -> None:
    path = tmp_path / "j.sqlite"
    _open(path).close()
    with SqliteJournal.open(path, plan_name="p", plan_digest="d", timezone="UTC") as j:
        assert {p.name: p.timezone for p in j.plans()} == {"p": "UTC"}


@pytest.mark.asyncio
async def test_a_location_respelled_after_it_covered_days_is_refused(tmp_path, chunk) -> None:
    path = tmp_path / "j.sqlite"
    before = [("cn-hangzhou", "ns-1", None, "g1")]
    c = chunk(1, D0)
    with _open(path, locations=before) as j:
        j.propose(c, plan="p", timezone="Asia/Shanghai")
        await j.mark_in_flight(c.key, 1.0)
        j.record_outcome(c.key, ChunkStatus.SUCCEEDED)
    with pytest.raises(JournalError, match="now names the location 'cn-hangzhou/ns-1/None/G1'"):
        _open(path, locations=[("cn-hangzhou", "ns-1", None, "G1")])
    # really another group: no refusal; and the settle path keeps what was recorded
    _open(path, locations=[*before, ("cn-hangzhou", "ns-1", None, "g2")]).close()
    SqliteJournal.open_existing(path).close()
    with SqliteJournal.open_readonly(path) as j:
        assert set(j.plans()[0].locations) == {*before, ("cn-hangzhou", "ns-1", None, "g2")}
