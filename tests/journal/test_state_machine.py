"""Random sequences of journal operations: SQLite and memory agree, and the invariants
that protect users hold after every step (a succeeded chunk stays succeeded, attempts
never go back, nothing in flight or unknown is ever marked in flight again)."""

from __future__ import annotations

import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path

import anyio
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from rerun_orchestrator.journal import (
    ChunkStatus,
    InvalidTransitionError,
    MemoryJournal,
    SqliteJournal,
)
from rerun_orchestrator.plan._model import Chunk

D0 = date(2024, 1, 1)
OUTCOMES = [s for s in ChunkStatus if s is not ChunkStatus.IN_FLIGHT]


def _chunk(i: int) -> Chunk:
    day = D0 + timedelta(days=i)
    return Chunk(f"k{i}", "r", "n", None, "g", i, day, day, i, i, "10:00:00", 1)


CHUNKS = [_chunk(i) for i in range(6)]


class _StillClock:
    def now(self) -> float:
        return 0.0

    def wall(self) -> float:
        return 1_700_000_000.0

    async def sleep(self, seconds: float) -> None:
        raise AssertionError("the journal never sleeps")


class JournalMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        self.path = self.dir / "j.sqlite"
        self.sqlite = SqliteJournal.open(
            self.path,
            plan_name="p",
            plan_digest="d",
            batch_size=3,
            batch_interval=1e9,
            clock=_StillClock(),
        )
        self.memory = MemoryJournal(plan_name="p", plan_digest="d", clock=_StillClock())
        self.previous: dict[str, tuple[ChunkStatus, int]] = {}
        self.t = 0.0

    def teardown(self) -> None:
        self.sqlite.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _both(self, op):
        results = []
        for journal in (self.sqlite, self.memory):
            try:
                results.append(("ok", op(journal)))
            except InvalidTransitionError:
                results.append(("refused", None))
        assert results[0] == results[1]
        return results[0]

    @rule(keep=st.sets(st.integers(0, 5), min_size=1))
    def sync(self, keep) -> None:
        chunks = [CHUNKS[i] for i in sorted(keep)]
        a, b = self.sqlite.sync(chunks), self.memory.sync(chunks)
        assert a == b

    @rule(i=st.integers(0, 5))
    def mark(self, i) -> None:
        if self.memory.get(f"k{i}") is None:
            return
        self.t += 1
        before = self.memory.get(f"k{i}")
        verdict, _ = self._both(lambda j: anyio.run(j.mark_in_flight, f"k{i}", self.t))
        sendable = before.status in (ChunkStatus.PENDING, ChunkStatus.FAILED)
        assert (verdict == "ok") == sendable

    @rule(i=st.integers(0, 5), status=st.sampled_from(OUTCOMES), rid=st.none() | st.just("R"))
    def outcome(self, i, status, rid) -> None:
        if self.memory.get(f"k{i}") is None:
            return
        before = self.memory.get(f"k{i}")
        verdict, _ = self._both(
            lambda j: j.record_outcome(f"k{i}", status, request_id=rid, code=i, instance_ids=[i])
        )
        refused = before.status is ChunkStatus.SUCCEEDED and status is not ChunkStatus.SUCCEEDED
        assert (verdict == "refused") == refused

    @rule()
    def crash_and_reopen(self) -> None:
        # Unflushed outcomes are lost with the process: what survives is what was
        # committed, which the memory model cannot know, so re-read it from disk and
        # check only that every in-flight mark survived.
        marks = {r.key: r.attempts for r in self.memory.records()}
        # Simulate the crash: the writer dies with what it had not committed, as with
        # kill -9, and close() then commits nothing.
        self.sqlite._writer._fail(RuntimeError("simulated crash"))
        self.sqlite.close()
        self.sqlite = SqliteJournal.open(
            self.path,
            plan_name="p",
            plan_digest="d",
            batch_size=3,
            batch_interval=1e9,
            clock=_StillClock(),
        )
        survived = {r.key: r for r in self.sqlite.records()}
        assert {k: r.attempts for k, r in survived.items()} == marks
        # the memory model now adopts what survived, as a restarted run would
        for record in survived.values():
            self.memory._records[record.key] = record
        # An unflushed outcome may be lost (its chunk is then in flight, and reconciled):
        # the invariants restart from what survived.
        self.previous = {k: (r.status, r.attempts) for k, r in survived.items()}

    @invariant()
    def agree_and_never_regress(self) -> None:
        a = list(self.sqlite.records())
        b = list(self.memory.records())
        assert [(r.key, r.status, r.attempts, r.request_id, r.code) for r in a] == [
            (r.key, r.status, r.attempts, r.request_id, r.code) for r in b
        ]
        assert self.sqlite.counts() == self.memory.counts()
        assert self.sqlite.orphans() == self.memory.orphans()
        for record in b:
            status, attempts = self.previous.get(record.key, (record.status, record.attempts))
            assert record.attempts >= attempts
            if status is ChunkStatus.SUCCEEDED:
                assert record.status is ChunkStatus.SUCCEEDED
            self.previous[record.key] = (record.status, record.attempts)


JournalMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestJournalMachine = JournalMachine.TestCase
