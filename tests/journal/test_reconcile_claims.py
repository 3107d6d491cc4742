"""Other records' instances are never taken for a doubtful attempt's (`run/_claims.py`).

The bug these pin: a `--rerun-succeeded` run killed with a chunk in flight within the clock
skew (5 minutes) of the earlier generation's run took that generation's instances as its
own on resume, settled the chunk succeeded without sending it, and the days were silently
not rerun.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rerun_orchestrator.journal import ChunkRecord, ChunkStatus, MemoryJournal, ReconcileOutcome
from rerun_orchestrator.journal._instances import DayInstance, InstanceState
from rerun_orchestrator.journal._model import JobIdentity
from rerun_orchestrator.run._claims import NO_CLAIMS, PriorClaims, claimed_ids, prior_claims
from rerun_orchestrator.run._judge import judge_instances
from rerun_orchestrator.run._reconcile import Reconciler
from rerun_orchestrator.schedulerx._wire import InstanceListPage, JobInstance

TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)
D0 = date(2024, 1, 1)
GEN0 = datetime(2024, 6, 1, 12, 0, 0, tzinfo=ZONE).timestamp()  # the first rerun's call
GEN1 = GEN0 + 90  # the deliberate rerun's attempt, well inside the 300 s skew


def _inst(iid: int, day: date, scheduled: float) -> JobInstance:
    return JobInstance(
        instance_id=iid,
        job_id=1,
        status=4,
        trigger_type=2,
        data_time=f"{day.isoformat()} 10:00:00",
        schedule_time=datetime.fromtimestamp(scheduled, ZONE).strftime("%Y-%m-%d %H:%M:%S"),
    )


def _days(n: int) -> list[date]:
    return [D0 + timedelta(days=i) for i in range(n)]


GEN0_INSTANCES = [_inst(100 + i, day, GEN0 + 1) for i, day in enumerate(_days(2))]
GEN1_INSTANCES = [_inst(200 + i, day, GEN1 + 1) for i, day in enumerate(_days(2))]


def _judge(instances, c, claims: PriorClaims = NO_CLAIMS):  # type: ignore[no-untyped-def]
    return judge_instances(instances, c, GEN1, timezone=TZ, skew=300, claims=claims)


def test_without_claims_the_earlier_generation_is_taken_for_ours(chunk) -> None:
    """What went wrong: the window reaches back over the first rerun's instances."""
    verdict = _judge(GEN0_INSTANCES, chunk(1, D0, 2))
    assert verdict.outcome is ReconcileOutcome.FOUND


def test_instances_named_for_another_record_are_not_evidence(chunk) -> None:
    c = chunk(1, D0, 2)
    claims = PriorClaims(ids=frozenset(i.instance_id for i in GEN0_INSTANCES))
    absent = _judge(GEN0_INSTANCES, c, claims)
    assert absent.outcome is ReconcileOutcome.ABSENT
    found = _judge(GEN0_INSTANCES + GEN1_INSTANCES, c, claims)
    assert found.outcome is ReconcileOutcome.FOUND
    assert found.instance_ids == (200, 201)


def test_an_unnamed_claim_in_the_window_leaves_the_day_undecidable(chunk) -> None:
    c = chunk(1, D0, 2)
    claims = PriorClaims(unnamed=tuple((day, GEN0 + 2) for day in _days(2)))
    verdict = _judge(GEN0_INSTANCES, c, claims)
    assert verdict.outcome is ReconcileOutcome.UNDECIDABLE
    assert "another record of the same days" in verdict.reason
    assert "2024-01-01, 2024-01-02" in verdict.reason
    # one instance more than the claims on every day: one of them is this attempt's
    assert _judge(GEN0_INSTANCES + GEN1_INSTANCES, c, claims).outcome is ReconcileOutcome.FOUND


def test_an_unnamed_claim_answered_before_the_window_claims_nothing(chunk) -> None:
    c = chunk(1, D0, 2)
    long_ago = GEN1 - 300 - 60
    claims = PriorClaims(unnamed=tuple((day, long_ago) for day in _days(2)))
    assert _judge(GEN1_INSTANCES, c, claims).outcome is ReconcileOutcome.FOUND
    # a claim whose attempt may still be under way (no answer time) always counts
    pending = PriorClaims(unnamed=tuple((day, None) for day in _days(2)))
    assert _judge(GEN1_INSTANCES, c, pending).outcome is ReconcileOutcome.UNDECIDABLE


async def _two_generations(chunk, *, watched: bool) -> tuple[MemoryJournal, ChunkRecord]:  # type: ignore[no-untyped-def]
    """A journal whose first rerun of days D0..D0+1 succeeded at GEN0 (its instances
    followed by the watcher when `watched`) and whose deliberate rerun is in flight."""
    journal = MemoryJournal()
    first = chunk(1, D0, 2)
    journal.propose(first, plan="p", timezone=TZ)
    await journal.mark_in_flight(first.key, GEN0)
    journal.record_outcome(first.key, ChunkStatus.SUCCEEDED, request_id="R0")
    if watched:
        journal.record_day_instances(
            DayInstance(first.key, day, 1, i.instance_id, InstanceState.SUCCESS)
            for i, day in zip(GEN0_INSTANCES, _days(2), strict=True)
        )
    again = dataclasses.replace(first, key=f"{first.key}~g1")
    journal.propose(again, plan="p", timezone=TZ, generation=1)
    record = await journal.mark_in_flight(again.key, GEN1)
    return journal, record


@pytest.mark.asyncio
@pytest.mark.parametrize("watched", [True, False])
async def test_the_journal_names_the_earlier_generations_claims(chunk, watched) -> None:
    journal, record = await _two_generations(chunk, watched=watched)
    claims = prior_claims(journal, record)
    if watched:
        assert claims.ids == {100, 101}
        assert claims.unnamed == ()
    else:
        assert claims.ids == frozenset()
        assert [day for day, _ in claims.unnamed] == _days(2)
    # the watcher's view: ids the journal gives to records other than the one it follows
    job = JobIdentity.of(record.chunk)
    named = claimed_ids(journal, job, D0, D0 + timedelta(days=1), {record.key})
    assert named == ({100, 101} if watched else frozenset())


class _History:
    """A job's instance list: both generations' instances when the resend went out."""

    def __init__(self, instances: list[JobInstance]) -> None:
        self.instances = instances

    async def get_job_instance_list(self, params):  # type: ignore[no-untyped-def]
        return InstanceListPage(
            tuple(self.instances),
            len(self.instances),
            page_num=params.page_num,
            page_size=params.page_size,
        )


@pytest.mark.asyncio
@pytest.mark.parametrize("sent", [True, False])
async def test_a_resumed_deliberate_rerun_is_judged_by_its_own_instances(
    chunk, clock, sent
) -> None:
    """End to end through the `Reconciler`: killed before the call went out, the chunk is
    ABSENT (resent once); after, FOUND with its own ids, never the first rerun's."""
    journal, record = await _two_generations(chunk, watched=True)
    history = _History(GEN0_INSTANCES + (GEN1_INSTANCES if sent else []))
    clock.advance(GEN1 + 60 - clock.wall())
    reconciler = Reconciler(history, clock=clock, timezone=TZ, settle_seconds=10)
    verdict = await reconciler.reconcile(record, prior_claims(journal, record))
    if sent:
        assert verdict.outcome is ReconcileOutcome.FOUND
        assert verdict.instance_ids == (200, 201)
    else:
        assert verdict.outcome is ReconcileOutcome.ABSENT
