"""`JournalCache`: the `PreflightCache` a run keeps in its journal (its ``job_facts``).

A resumed run asks SchedulerX only about jobs it has not checked before, or checked more
than `FACTS_MAX_AGE_SECONDS` ago (a job can be disabled, deleted or moved in the console
at any time; a day old is old enough to ask again, and at 100 GetJobInfo a minute a
day's recheck of even a large plan costs minutes, not the run). Only good jobs are kept:
a job the check asked about and did not find good loses any fact recorded before.
"""

from __future__ import annotations

from .._clock import Clock, SystemClock
from ..journal._model import JobFactsEntry, JobIdentity
from ..journal._store import Journal
from ._model import JobFacts, JobRef, Schedule

FACTS_MAX_AGE_SECONDS = 24 * 3600.0


class JournalCache:
    """Facts read from `journal` once; what the check learns is written back by `save`
    (in one transaction: a pre-flight of 500 jobs is one commit, not 500)."""

    def __init__(
        self,
        journal: Journal,
        *,
        clock: Clock | None = None,
        max_age: float = FACTS_MAX_AGE_SECONDS,
    ) -> None:
        self._journal = journal
        self._clock = clock or SystemClock()
        self._max_age = max_age
        self._recorded = journal.job_facts()
        self._learnt: dict[JobRef, JobFacts] = {}
        self._asked: set[JobRef] = set()  # not known here: the check asks SchedulerX

    def known(self, ref: JobRef) -> JobFacts | None:
        if (learnt := self._learnt.get(ref)) is not None:
            return learnt
        entry = self._recorded.get(_identity(ref))
        fresh = entry is not None and self._clock.wall() - entry.checked_at <= self._max_age
        if entry is None or not fresh or not entry.enabled or entry.professional is False:
            self._asked.add(ref)
            return None
        return JobFacts(
            ref,
            name=entry.name,
            enabled=entry.enabled,
            max_concurrency=entry.max_concurrency,
            schedule=Schedule(entry.time_type, entry.expression, entry.calendar, entry.data_offset),
            professional=entry.professional,
        )

    def remember(self, facts: JobFacts) -> None:
        if facts.enabled and facts.professional is not False:  # never a bad job as good
            self._learnt[facts.ref] = facts

    def save(self) -> None:
        """Record what was learnt; forget the jobs asked about and not found good."""
        now = self._clock.wall()
        entries = [_entry(facts, now) for facts in self._learnt.values()]
        forget = [_identity(ref) for ref in self._asked if ref not in self._learnt]
        self._journal.record_job_facts(entries, forget=forget)
        self._recorded.update((entry.job, entry) for entry in entries)
        for job in forget:
            self._recorded.pop(job, None)
        self._learnt.clear()
        self._asked.clear()


def _identity(ref: JobRef) -> JobIdentity:
    return JobIdentity(ref.region, ref.namespace, ref.namespace_source, ref.group_id, ref.job_id)


def _entry(facts: JobFacts, now: float) -> JobFactsEntry:
    schedule = facts.schedule
    return JobFactsEntry(
        _identity(facts.ref),
        name=facts.name,
        enabled=facts.enabled,
        max_concurrency=facts.max_concurrency,
        time_type=schedule.time_type,
        expression=schedule.expression,
        calendar=schedule.calendar,
        data_offset=schedule.data_offset,
        professional=facts.professional,
        checked_at=now,
    )
