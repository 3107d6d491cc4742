"""Ask SchedulerX about every job of a plan before anything is rerun.

Two read APIs, each paced by its own per-account pacer (one quota per API and account, as
SchedulerX counts them): ListGroups once per namespace (does the group exist, is it
Professional Edition: GetJobInfo cannot tell), then GetJobInfo once per job, many in flight
(does the job exist in that group, is it enabled, its ``MaxConcurrency`` and schedule).
Jobs of a namespace that ListGroups showed missing are not asked one by one, and of a group
it did not list only one is (to confirm: ListGroups might show less than the caller may
see): the quota is shared with everything else the account does.

Transient trouble (throttling, 5xx, a lost answer) is retried with backoff: a read is
safe to repeat. A refusal of the credentials themselves stops the whole check (`fatal`).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

import anyio

from .._clock import Clock, SystemClock
from ..run._backoff import Backoff
from ..run._limiter import Pacer
from ..run._policy import halts_the_run
from ..schedulerx import ApiCallError, AppGroup, CredentialsError, EndpointError, JobInfo, Verdict
from ._model import (
    JobEntry,
    JobFacts,
    JobProblem,
    JobRef,
    PreflightCache,
    PreflightReport,
    ProblemKind,
    Schedule,
)

DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_ATTEMPTS = 8
_RETRYABLE = (Verdict.RETRY, Verdict.RESIGN, Verdict.AMBIGUOUS)
T = TypeVar("T")
Progress = Callable[[int, int], None]


class JobInfoClient(Protocol):
    """The two reads a pre-flight needs (`SchedulerXClient` has them)."""

    async def get_job_info(
        self,
        *,
        region: str,
        namespace: str,
        group_id: str,
        job_id: int,
        namespace_source: str | None = None,
    ) -> JobInfo: ...

    async def list_groups(
        self, *, region: str, namespace: str, namespace_source: str | None = None
    ) -> tuple[AppGroup, ...]: ...


class _FatalError(Exception):
    """The credentials or the account were refused: no other answer will be better."""


@dataclass
class _Namespace:
    """What ListGroups said about one namespace: its groups, or why every job there is bad."""

    groups: dict[str, AppGroup] | None = None  # None: editions unknown
    problem: tuple[ProblemKind, str] | None = None


class Preflight:
    """One pre-flight over a list of job entries; `run()` returns the report.

    Args:
        client: the reads (GetJobInfo, ListGroups).
        info_pacer, groups_pacer: one call each; share them with every other reader of the
            same account (`shared_limiters`), since the quota is the account's.
        cache: facts from earlier checks; good jobs found there are not asked again.
        concurrency: GetJobInfo calls in flight at once.
        max_attempts: per call, for transient trouble.
        on_progress: ``(done, total)`` after each job is settled.
    """

    def __init__(
        self,
        client: JobInfoClient,
        *,
        info_pacer: Pacer,
        groups_pacer: Pacer,
        cache: PreflightCache | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        on_progress: Progress | None = None,
    ) -> None:
        if concurrency < 1 or max_attempts < 1:
            raise ValueError("concurrency and max_attempts must be >= 1")
        self._client = client
        self._info_pacer = info_pacer
        self._groups_pacer = groups_pacer
        self._cache = cache
        self._concurrency = concurrency
        self._max_attempts = max_attempts
        self._clock: Clock = clock or SystemClock()
        self._backoff = backoff or Backoff()
        self._rng = rng or random.Random()
        self._on_progress = on_progress
        self._report = PreflightReport()
        self._done = 0

    async def run(self, entries: Iterable[JobEntry]) -> PreflightReport:
        jobs = [entry.ref for entry in entries]
        report = self._report
        report.jobs = len(jobs)
        to_ask: list[JobRef] = []
        for ref in jobs:
            known = self._cache.known(ref) if self._cache is not None else None
            if known is None:
                to_ask.append(ref)
            else:
                report.facts[ref] = known
                report.cached += 1
                self._settled()
        try:
            namespaces = await self._namespaces({ref.namespace_key for ref in to_ask})
            pending: list[JobRef] = []
            unlisted: dict[tuple[str, str, str | None, str], list[JobRef]] = {}
            for ref in to_ask:
                namespace = namespaces[ref.namespace_key]
                if namespace.problem is not None:
                    self._problem(ref, *namespace.problem)
                elif namespace.groups is not None and ref.group_id not in namespace.groups:
                    unlisted.setdefault((*ref.namespace_key, ref.group_id), []).append(ref)
                else:
                    pending.append(ref)
            pending += await self._unlisted_groups(list(unlisted.values()), namespaces)
            await self._ask_jobs(pending, namespaces)
        except* _FatalError as group:  # raised in a task group: the first one says it
            report.fatal = str(group.exceptions[0])
        report.problems.sort(key=lambda p: (p.ref.sort_key(), p.kind.value))
        return report

    # -- namespaces -----------------------------------------------------------------

    async def _namespaces(
        self, keys: set[tuple[str, str, str | None]]
    ) -> dict[tuple[str, str, str | None], _Namespace]:
        found: dict[tuple[str, str, str | None], _Namespace] = {}

        async def one(key: tuple[str, str, str | None]) -> None:
            found[key] = await self._namespace(*key)

        async with anyio.create_task_group() as tg:
            for key in sorted(keys, key=str):
                tg.start_soon(one, key)
        return found

    async def _namespace(self, region: str, namespace: str, source: str | None) -> _Namespace:
        try:
            return await self._list_groups(region, namespace, source)
        except EndpointError as exc:  # a region without a known endpoint and no override
            return _Namespace(problem=(ProblemKind.REGION_NOT_FOUND, str(exc)))

    async def _list_groups(self, region: str, namespace: str, source: str | None) -> _Namespace:
        answer = await self._ask(
            "ListGroups",
            self._groups_pacer,
            lambda: self._client.list_groups(
                region=region, namespace=namespace, namespace_source=source
            ),
        )
        if not isinstance(answer, ApiCallError):
            return _Namespace(groups={group.group_id: group for group in answer})
        kind = _kind_of(answer)
        if kind is ProblemKind.REGION_NOT_FOUND:
            return _Namespace(problem=(kind, f"region {region} not found (InvalidRegionId)"))
        if kind is ProblemKind.NAMESPACE_NOT_FOUND:
            shown = namespace if source is None else f"{namespace} (source {source})"
            return _Namespace(problem=(kind, f"namespace {shown} not found in {region}"))
        self._report.notes.append(
            f"{region}/{namespace}: group editions not checked ({_describe(answer)})"
        )
        return _Namespace()

    async def _unlisted_groups(
        self,
        groups: list[list[JobRef]],
        namespaces: dict[tuple[str, str, str | None], _Namespace],
    ) -> list[JobRef]:
        """Jobs of groups ListGroups did not list: GetJobInfo for one job of each first.

        If it confirms that the group does not exist, its other jobs get the same answer
        without a call each; if it knows the job (ListGroups showed less than the caller may
        see), the group's edition is unknown and its other jobs are asked as usual.
        """
        still: list[JobRef] = []

        async def first_of(refs: list[JobRef]) -> None:
            head, rest = refs[0], refs[1:]
            kind = await self._job(head, namespaces[head.namespace_key])
            if kind is ProblemKind.GROUP_NOT_FOUND:
                for ref in rest:
                    self._problem(ref, kind, _group_missing(ref))
                return
            self._report.notes.append(
                f"{head.where()}: ListGroups does not list the group, GetJobInfo knows it; "
                "its edition is not checked"
            )
            still.extend(rest)

        async with anyio.create_task_group() as tg:
            for refs in groups:
                tg.start_soon(first_of, refs)
        return still

    # -- jobs -----------------------------------------------------------------------

    async def _ask_jobs(
        self, refs: list[JobRef], namespaces: dict[tuple[str, str, str | None], _Namespace]
    ) -> None:
        queue: Iterator[JobRef] = iter(refs)

        async def worker() -> None:
            for ref in queue:
                await self._job(ref, namespaces[ref.namespace_key])

        async with anyio.create_task_group() as tg:
            for _ in range(min(self._concurrency, len(refs))):
                tg.start_soon(worker)

    async def _job(self, ref: JobRef, namespace: _Namespace) -> ProblemKind | None:
        """Ask GetJobInfo about `ref` and record what it said; the problem's kind, if any."""
        answer = await self._ask(
            "GetJobInfo",
            self._info_pacer,
            lambda: self._client.get_job_info(
                region=ref.region,
                namespace=ref.namespace,
                group_id=ref.group_id,
                job_id=ref.job_id,
                namespace_source=ref.namespace_source,
            ),
        )
        if isinstance(answer, ApiCallError):
            kind = _kind_of(answer)
            self._problem(ref, kind, _job_message(ref, kind, answer))
            return kind
        group = namespace.groups.get(ref.group_id) if namespace.groups is not None else None
        facts = JobFacts(
            ref=ref,
            name=answer.name,
            enabled=answer.enabled,
            max_concurrency=answer.max_concurrency or 1,  # the documented default
            schedule=Schedule(
                answer.time_type, answer.time_expression, answer.calendar, answer.data_offset
            ),
            professional=None if group is None else group.professional,
        )
        bad = False
        if not facts.enabled:
            bad = True
            self._problem(
                ref, ProblemKind.DISABLED, "is disabled (GetJobInfo Status 0)", done=False
            )
        if facts.professional is False:
            bad = True
            self._problem(
                ref,
                ProblemKind.BASIC_EDITION,
                f"group {ref.group_id} is Basic Edition (ListGroups AppVersion "
                f"{group.app_version if group else '?'}); RerunJob needs Professional Edition",
                done=False,
            )
        self._report.facts[ref] = facts
        if not bad and self._cache is not None:
            self._cache.remember(facts)
        self._settled()
        return None

    # -- one read, retried ----------------------------------------------------------

    async def _ask(
        self, action: str, pacer: Pacer, call: Callable[[], Awaitable[T]]
    ) -> T | ApiCallError:
        """`call()` paced by `pacer`, retried on transient trouble; a refusal is returned."""
        calls = self._report.calls
        attempt = 0
        while True:
            attempt += 1
            await pacer.acquire()
            sent_at = self._clock.now()
            calls[action] = calls.get(action, 0) + 1
            try:
                value = await call()
            except CredentialsError as exc:
                raise _FatalError(f"no usable credentials: {exc}") from None
            except ApiCallError as exc:
                result = exc.result
                if result.throttled:
                    hint = result.retry_after_ms
                    pacer.on_throttle(sent_at=sent_at, retry_after=hint / 1000 if hint else None)
                # A clock-skew or nonce refusal is re-signed once; other trouble retried.
                limit = 2 if result.verdict is Verdict.RESIGN else self._max_attempts
                if result.verdict in _RETRYABLE and attempt < limit:
                    await self._clock.sleep(self._backoff.delay(attempt, self._rng))
                    continue
                if halts_the_run(result):
                    raise _FatalError(
                        f"{action} refused the credentials: {_describe(exc)}"
                    ) from None
                return exc
            pacer.on_success()
            return value

    def _problem(self, ref: JobRef, kind: ProblemKind, message: str, *, done: bool = True) -> None:
        self._report.problems.append(JobProblem(ref, kind, message))
        if done:
            self._settled()

    def _settled(self) -> None:
        self._done += 1
        if self._on_progress is not None:
            self._on_progress(self._done, self._report.jobs)


def _kind_of(error: ApiCallError) -> ProblemKind:
    """What a refused read says about the job, from SchedulerX's code and message."""
    result = error.result
    if result.verdict in _RETRYABLE:
        return ProblemKind.UNCHECKED
    if result.code == "InvalidRegionId":
        return ProblemKind.REGION_NOT_FOUND
    text = (result.message or "").lower()
    if "namespace can not find" in text:
        return ProblemKind.NAMESPACE_NOT_FOUND
    if "groupid not exist" in text:
        return ProblemKind.GROUP_NOT_FOUND
    if "not match groupid" in text:
        return ProblemKind.OTHER_GROUP
    if "not exist" in text:
        return ProblemKind.JOB_NOT_FOUND
    return ProblemKind.REFUSED


def _describe(error: ApiCallError) -> str:
    result = error.result
    if result.code is None:
        return result.reason
    said = f": {result.message}" if result.message else ""
    return f"{result.code}{said}"


def _group_missing(ref: JobRef) -> str:
    return f"group {ref.group_id} not found in {ref.namespace} ({ref.region})"


def _job_message(ref: JobRef, kind: ProblemKind, error: ApiCallError) -> str:
    said = f'SchedulerX: "{error.result.message}"' if error.result.message else ""
    if kind is ProblemKind.REGION_NOT_FOUND:
        return f"region {ref.region} not found (InvalidRegionId)"
    if kind is ProblemKind.NAMESPACE_NOT_FOUND:
        return f"namespace {ref.namespace} not found in {ref.region}"
    if kind is ProblemKind.GROUP_NOT_FOUND:
        return _group_missing(ref)
    if kind is ProblemKind.JOB_NOT_FOUND:
        return f"not found in {ref.where()} ({said})"
    if kind is ProblemKind.OTHER_GROUP:
        return f"is not a job of group {ref.group_id} in {ref.namespace} ({said})"
    if kind is ProblemKind.UNCHECKED:
        return f"could not be checked: {error.result.reason} ({_describe(error)})"
    return f"GetJobInfo refused: {_describe(error)}"
