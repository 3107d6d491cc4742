"""Pre-flight: ask SchedulerX about every job of a plan before anything is rerun.

`preflight_plan` is what `rerun-orchestrator check` and `run` both call: GetJobInfo for
every job and ListGroups for every namespace, paced by the account's read quota. It
reports each job that cannot be rerun (not found in its region/namespace/group, disabled,
in a Basic Edition group) and what it learnt about the good ones (``MaxConcurrency``,
schedule) for the run to use. Nothing is rerun.
"""

from ._cache import FACTS_MAX_AGE_SECONDS, JournalCache
from ._check import DEFAULT_CONCURRENCY, JobInfoClient, Preflight
from ._model import (
    JobEntry,
    JobFacts,
    JobProblem,
    JobRef,
    MemoryCache,
    PreflightCache,
    PreflightReport,
    ProblemKind,
    Schedule,
    plan_jobs,
)
from ._plan import (
    DEFAULT_READ_RATE,
    GET_JOB_INFO,
    LIST_GROUPS,
    PlanCheck,
    PreflightFailedError,
    preflight_before_run,
    preflight_plan,
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_READ_RATE",
    "FACTS_MAX_AGE_SECONDS",
    "GET_JOB_INFO",
    "LIST_GROUPS",
    "JobEntry",
    "JobFacts",
    "JobInfoClient",
    "JobProblem",
    "JobRef",
    "JournalCache",
    "MemoryCache",
    "PlanCheck",
    "Preflight",
    "PreflightCache",
    "PreflightFailedError",
    "PreflightReport",
    "ProblemKind",
    "Schedule",
    "plan_jobs",
    "preflight_before_run",
    "preflight_plan",
]
