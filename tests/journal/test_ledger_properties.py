"""The ledger's promise as properties: no sequence of plan edits, stops, crashes and resumes
sends a covered day, and a last clean run leaves every planned day sent exactly once.

A fake server applies every RerunJob it receives (counting rerun instances per (job, day))
and may lose the answer (an ambiguous outcome), or the run may be cut off mid-call (a
hard stop, as a crash leaves it). The reconciler answers from the server's truth. The
counts are the server's, never the journal's.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rerun_orchestrator._clock import FakeClock
from rerun_orchestrator.journal import (
    ChunkRecord,
    ChunkStatus,
    Journal,
    MemoryJournal,
    ReconcileOutcome,
    Reconciliation,
    SqliteJournal,
)
from rerun_orchestrator.journal._ledger import DayState, conflict, cut, segments
from rerun_orchestrator.journal._view import JobPlan, make_chunk
from rerun_orchestrator.plan._calendar import cut_window
from rerun_orchestrator.plan._model import Execution, Rate
from rerun_orchestrator.plan._plan import Plan, Target, Window
from rerun_orchestrator.run import run_plan
from rerun_orchestrator.schedulerx import ApiResponse, AttemptResult, RerunJobParams, Verdict

TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)
D0 = date(2024, 1, 1)


def day_of(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, ZONE).date()


@dataclass
class FakeServer:
    """Applies RerunJob calls; `lose`/`cut` decide which answers go missing."""

    clock: FakeClock
    instances: Counter[tuple[int, date]] = field(default_factory=Counter)
    applied: set[tuple[int, date, date]] = field(default_factory=set)
    calls: int = 0
    lose_every: int = 0  # every n-th call applies but its answer is lost (0: never)
    cut_at: int = 0  # the n-th call applies, then the run is cut off (0: never)
    scope: anyio.CancelScope | None = None

    async def rerun_job(self, params: RerunJobParams) -> AttemptResult:
        self.calls += 1
        first, last = day_of(params.start_date), day_of(params.end_date)
        for n in range((last - first).days + 1):
            self.instances[(params.job_id, first + timedelta(days=n))] += 1
        self.applied.add((params.job_id, first, last))
        await self.clock.sleep(0.01)
        if self.cut_at and self.calls == self.cut_at and self.scope is not None:
            self.scope.cancel()  # a crash after the request was written
            await anyio.sleep_forever()
        if self.lose_every and self.calls % self.lose_every == 0:
            return AttemptResult(Verdict.AMBIGUOUS, "answer lost", None, 30.0)
        return AttemptResult(
            Verdict.SUCCEEDED, "accepted", ApiResponse(200, f"R{self.calls}", 200, True, None)
        )

    async def reconcile(self, record: ChunkRecord) -> Reconciliation:
        chunk = record.chunk
        if (chunk.job_id, chunk.first_day, chunk.last_day) in self.applied:
            return Reconciliation(ReconcileOutcome.FOUND, "found", (1,))
        return Reconciliation(ReconcileOutcome.ABSENT, "absent")


# A plan edit: jobs, one window per job set, chunk_days, order.
edits = st.fixed_dictionaries(
    {
        "jobs": st.lists(st.integers(1, 4), min_size=1, max_size=3, unique=True),
        "start": st.integers(0, 6),
        "days": st.integers(1, 12),
        "chunk_days": st.integers(1, 5),
        "newest_first": st.booleans(),
        "lose_every": st.sampled_from([0, 0, 2, 3]),
        "cut_at": st.sampled_from([0, 0, 1, 2, 4]),
        "name": st.sampled_from(["a", "a", "b"]),
        "split": st.booleans(),
        "lanes": st.sampled_from([1, 1, 2]),
    }
)


def make_plan(edit: dict[str, object]) -> Plan:
    start = D0 + timedelta(days=int(edit["start"]))  # type: ignore[call-overload]
    days = int(edit["days"])  # type: ignore[call-overload]
    jobs = tuple((j, j) for j in edit["jobs"])  # type: ignore[attr-defined]
    chunk_days = int(edit["chunk_days"])  # type: ignore[call-overload]
    halves = [(start, days)]
    if edit["split"] and days > 1:  # the same jobs in two targets, each half the days
        half = days // 2
        halves = [(start + timedelta(days=half), days - half), (start, half)]
    targets = tuple(
        Target(
            "cn-hangzhou",
            "ns-1",
            None,
            "g1",
            "10:00:00",
            chunk_days,
            jobs,
            (Window(first, first + timedelta(days=n - 1)),),
        )
        for first, n in halves
    )
    order = "newest_first" if edit["newest_first"] else "oldest_first"
    execution = Execution(
        rate=Rate(1000, 1),
        concurrency=2,
        order=order,
        per_job_concurrency=int(edit["lanes"]),  # type: ignore[call-overload]
    )
    return Plan(name=str(edit["name"]), timezone=TZ, targets=targets, execution=execution)


async def run_once(plan: Plan, journal: Journal, server: FakeServer, clock: FakeClock) -> None:
    with anyio.CancelScope() as scope:
        server.scope = scope
        await run_plan(plan, client=server, journal=journal, reconciler=server, clock=clock)


def planned_days(plan: Plan) -> set[tuple[int, date]]:
    out = set()
    for t in plan.targets:
        for job in t.job_ids():
            for w in t.windows:
                out |= {(job, w.start + timedelta(days=n)) for n in range(w.days)}
    return out


async def check_sequence(steps: list[dict[str, object]], journal: Journal) -> None:
    clock = FakeClock()
    server = FakeServer(clock)
    for edit in steps:
        plan = make_plan(edit)
        server.lose_every, server.cut_at, server.calls = (
            int(edit["lose_every"]),  # type: ignore[call-overload]
            int(edit["cut_at"]),  # type: ignore[call-overload]
            0,
        )
        await run_once(plan, journal, server, clock)
        doubled = [key for key, n in server.instances.items() if n > 1]
        assert doubled == [], f"days rerun twice after {edit}: {doubled}"
    # the last plan, run cleanly until nothing is left: every day of it exactly once
    server.lose_every = server.cut_at = 0
    last = make_plan(steps[-1])
    for _ in range(3):
        await run_once(last, journal, server, clock)
    missing = sorted(planned_days(last) - server.instances.keys())
    assert missing == []
    assert max(server.instances.values()) == 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(edits, min_size=1, max_size=5))
def test_no_edit_stop_or_crash_sends_a_covered_day(steps) -> None:
    anyio.run(check_sequence, steps, MemoryJournal(plan_name="a"))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(edits, min_size=1, max_size=4))
def test_the_same_holds_on_sqlite(steps, tmp_path_factory: pytest.TempPathFactory) -> None:
    path: Path = tmp_path_factory.mktemp("ledger") / "j.sqlite"

    async def go() -> None:
        journal = SqliteJournal.open(path, plan_name="a", plan_digest="", timezone=TZ)
        try:
            await check_sequence(steps, journal)
        finally:
            journal.close()

    anyio.run(go)


# -- the pure arithmetic -------------------------------------------------------------


def record(first: date, days: int, status: ChunkStatus, job: int = 1) -> ChunkRecord:
    target = Target("r", "n", None, "g", "10:00:00", 7, ((job, job),), (Window(first, first),))
    chunk = make_chunk(
        target, JobPlan(target, job).job_id, first, first + timedelta(days=days - 1), ZONE
    )
    return ChunkRecord(chunk, status)


@given(
    spans=st.lists(
        st.tuples(st.integers(0, 40), st.integers(1, 9), st.sampled_from(list(ChunkStatus))),
        max_size=8,
    ),
    lo=st.integers(0, 30),
    width=st.integers(1, 30),
)
def test_segments_partition_the_window_by_precedence(spans, lo, width) -> None:
    records = [record(D0 + timedelta(days=a), n, s) for a, n, s in spans]
    first, last = D0 + timedelta(days=lo), D0 + timedelta(days=lo + width - 1)
    parts = segments(first, last, records)
    # a partition of the window, in order
    assert parts[0].first == first
    assert parts[-1].last == last
    for a, b in itertools.pairwise(parts):
        assert (b.first - a.last).days == 1
    for part in parts:
        for n in range(part.days):
            day = part.first + timedelta(days=n)
            holding = [r for r in records if r.chunk.first_day <= day <= r.chunk.last_day]
            if any(r.covers for r in holding):
                assert part.state is DayState.COVERED
                assert part.record is not None
                assert part.record.covers
            elif any(r.status is ChunkStatus.FAILED for r in holding):
                assert part.state is DayState.FAILED
            else:
                assert part.state is DayState.OPEN


@given(first=st.integers(0, 100), days=st.integers(1, 60), chunk_days=st.integers(1, 10))
def test_an_open_window_is_cut_as_the_plan_cuts_it(first, days, chunk_days) -> None:
    a = D0 + timedelta(days=first)
    b = a + timedelta(days=days - 1)
    assert list(cut([(a, b)], chunk_days)) == list(cut_window(a, b, chunk_days))


def test_conflict_names_the_covering_record_and_ignores_itself() -> None:
    mine = record(D0, 3, ChunkStatus.PENDING)
    done = record(D0 + timedelta(days=2), 2, ChunkStatus.SUCCEEDED)
    refused = record(D0, 5, ChunkStatus.FAILED)
    assert conflict(mine, [mine, refused]) is None
    assert conflict(mine, [refused, done]) is done
