"""`preflight_plan`: the one call `check` and `run` both make, and how its findings read.

Pacing is the account's: GetJobInfo and ListGroups each get the process-wide pacer of
(account, API) from `shared_limiters` at `read_rate`, so a `check` and a `run` (or two
runs) of one account in one process share one read budget per API.
"""

from __future__ import annotations

from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from .._clock import Clock
from .._logs import get_logger
from ..plan import Plan, Rate
from ..plan._positions import Position
from ..run._limiter import LimiterRegistry, Pacer, RateLimiter, shared_limiters
from ..run._registry import AccountRegistry
from ._check import JobInfoClient, Preflight, Progress
from ._model import JobRef, PreflightCache, PreflightReport, plan_jobs
from ._progress import ProgressBar

GET_JOB_INFO = "GetJobInfo"
LIST_GROUPS = "ListGroups"
# The documented quota of every SchedulerX API: 100 calls per minute per account.
DEFAULT_READ_RATE = Rate(100, 60)
_log = get_logger("rerun_orchestrator.preflight")


@dataclass(frozen=True)
class PlanCheck:
    """A plan's pre-flight report with where each of its jobs is written."""

    plan: Plan
    report: PreflightReport
    positions: dict[JobRef, tuple[Position, ...]]

    @property
    def ok(self) -> bool:
        return self.report.ok

    @property
    def path(self) -> str:
        return self.plan.path or "<string>"

    def diagnostics(self) -> list[str]:
        """``PATH:LINE:COL: job N: what is wrong``, one per bad job and place it is listed,
        in file order."""
        found = sorted(
            (line, col, problem.ref.job_id, problem.message)
            for problem in self.report.problems
            for line, col in self.positions.get(problem.ref, ((1, 1),))
        )
        lines = [f"{self.path}:{line}:{col}: job {job}: {what}" for line, col, job, what in found]
        if self.report.fatal is not None:
            lines.append(f"{self.path}: pre-flight stopped: {self.report.fatal}")
        return lines

    def github(self) -> list[str]:
        """The bad jobs as GitHub Actions annotations (``::error file=...::job N: ...``)."""
        lines = []
        for problem in self.report.problems:
            for line, col in self.positions.get(problem.ref, ((1, 1),)):
                where = f"file={_escape(self.path, True)},line={line},col={col}"
                what = _escape(f"job {problem.ref.job_id}: {problem.message}", False)
                lines.append(f"::error {where}::{what}")
        if self.report.fatal is not None:
            what = _escape(f"pre-flight stopped: {self.report.fatal}", False)
            lines.append(f"::error file={_escape(self.path, True)}::{what}")
        return sorted(lines)

    def summary(self) -> str:
        """One line: what was checked and what the run will use."""
        report = self.report
        if report.fatal is not None:
            return f"{self.path}: not checked: the pre-flight stopped ({report.jobs} jobs)"
        if not report.ok:
            jobs = "job" if report.bad_jobs == 1 else "jobs"
            return f"{self.path}: {report.bad_jobs} bad {jobs} of {report.jobs}"
        caps = Counter(f.max_concurrency for f in report.facts.values())
        shown = ", ".join(f"{cap}: {n}" for cap, n in sorted(caps.items()))
        kinds = Counter(f.schedule.kind for f in report.facts.values())
        schedules = ", ".join(f"{kind}: {n}" for kind, n in sorted(kinds.items()))
        cached = f" ({report.cached} known from before)" if report.cached else ""
        return (
            f"{self.path}: ok: {report.jobs} jobs checked{cached}; "
            f"MaxConcurrency {shown or '-'}; schedules {schedules or '-'}"
        )

    def to_json(self) -> dict[str, Any]:
        """The `check --format json` object of this plan."""
        report = self.report
        problems_of: dict[JobRef, list[str]] = {}
        for problem in report.problems:
            problems_of.setdefault(problem.ref, []).append(problem.kind.value)
        jobs = []
        for ref, spots in self.positions.items():
            facts = report.facts.get(ref)
            line, col = spots[0]
            jobs.append(
                {
                    **ref.to_json(),
                    "line": line,
                    "col": col,
                    "ok": report.fatal is None and ref not in problems_of and facts is not None,
                    "problems": problems_of.get(ref, []),
                    **(facts.to_json() if facts is not None else {}),
                }
            )
        problems = [
            {
                "line": line,
                "col": col,
                "job_id": p.ref.job_id,
                "kind": p.kind.value,
                "message": p.message,
            }
            for p in report.problems
            for line, col in self.positions.get(p.ref, ((1, 1),))
        ]
        return {
            "path": self.path,
            "plan": self.plan.name,
            "ok": report.ok,
            "jobs_checked": report.jobs,
            "bad_jobs": report.bad_jobs,
            "fatal": report.fatal,
            "notes": list(report.notes),
            "calls": dict(report.calls),
            "problems": problems,
            "jobs": jobs,
        }


def _escape(text: str, in_property: bool) -> str:
    """GitHub's workflow-command escaping (``%``, line breaks; ``:`` and ``,`` in properties)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if in_property:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


async def preflight_plan(
    plan: Plan,
    client: JobInfoClient,
    *,
    account: str,
    read_rate: Rate = DEFAULT_READ_RATE,
    cache: PreflightCache | None = None,
    clock: Clock | None = None,
    on_progress: Progress | None = None,
    limiters: LimiterRegistry = shared_limiters,
    concurrency: int | None = None,
    accounts: AccountRegistry | None = None,
) -> PlanCheck:
    """Ask SchedulerX about every job of `plan` (see `Preflight`); never raises for answers.

    Args:
        account: the quota holder (the AccessKey ID): pacers are shared per (account, API).
        read_rate: the pace of each read API (the plan's ``read_rate``, ``--read-rate``).
        cache: facts from earlier checks (the journal's); good jobs there are not asked.
        accounts: an account registry (`run.default_accounts`, say): GetJobInfo and
            ListGroups then draw on the account's read pacer, shared with its reconcilers
            and guards, instead of `limiters`' pacers per API.
    """

    def pacer() -> Pacer:
        # A fixed pace, as run's other reads: at the quota it finishes soonest; an
        # adaptive pacer collides less with the account's other callers but takes longer
        # (bench/bench_preflight.py measures both).
        return RateLimiter(read_rate, clock=clock)

    info: Pacer
    groups: Pacer
    if accounts is not None:
        info = groups = accounts.get(account, clock=clock).reads
    else:
        info = limiters.get(account, GET_JOB_INFO, pacer)
        groups = limiters.get(account, LIST_GROUPS, pacer)
    entries = list(plan_jobs(plan))
    extra: dict[str, Any] = {} if concurrency is None else {"concurrency": concurrency}
    check = Preflight(
        client,
        info_pacer=info,
        groups_pacer=groups,
        cache=cache,
        clock=clock,
        on_progress=on_progress,
        **extra,
    )
    report = await check.run(entries)
    return PlanCheck(plan, report, {entry.ref: entry.positions for entry in entries})


class PreflightFailedError(Exception):
    """`run`'s pre-flight found bad jobs (or could not check): nothing may be sent.

    The message names every bad job as ``PATH:LINE:COL: job N: ...``.
    """

    def __init__(self, check: PlanCheck) -> None:
        self.check = check
        report = check.report
        if report.fatal is not None:
            head = "pre-flight could not check the plan's jobs; nothing sent"
        else:
            jobs = "job" if report.bad_jobs == 1 else "jobs"
            head = f"pre-flight: {report.bad_jobs} bad {jobs} of {report.jobs}; nothing sent"
        tail = "fix the plan or the jobs, or skip the check with --no-preflight"
        super().__init__("\n".join([head, *check.diagnostics(), tail]))


async def preflight_before_run(
    plan: Plan,
    client: JobInfoClient,
    *,
    account: str,
    read_rate: Rate = DEFAULT_READ_RATE,
    cache: PreflightCache | None = None,
    progress: bool = False,
) -> PlanCheck:
    """`run`'s pre-flight: `preflight_plan`, with a progress bar on a terminal, logged.

    Raises:
        PreflightFailedError: any bad job, or the check could not be made.
    """
    bar = ProgressBar(plan.name) if progress else None
    with bar or nullcontext():
        check = await preflight_plan(
            plan,
            client,
            account=account,
            read_rate=read_rate,
            cache=cache,
            on_progress=bar.update if bar is not None else None,
        )
    report = check.report
    _log.info(
        "rerun.preflight",
        jobs=report.jobs,
        bad_jobs=report.bad_jobs,
        cached=report.cached,
        calls=dict(report.calls),
        fatal=report.fatal,
    )
    for problem in report.problems:
        _log.error(
            "rerun.preflight.bad_job",
            job_id=problem.ref.job_id,
            group_id=problem.ref.group_id,
            kind=problem.kind.value,
            message=problem.message,
        )
    if not check.ok:
        raise PreflightFailedError(check)
    return check
