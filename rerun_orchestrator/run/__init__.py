"""The executor: send a plan's chunks at the account's pace, survive faults, record everything.

`run_plan` (or `open_run`, its async-iterator form) runs a loaded plan with a client and a
journal: chunks go out per job in date order through a shared rate limiter
(`RateLimiter`, or `AdaptiveLimiter`, which finds the quota the account really leaves),
a concurrency cap, and a retry policy table run by tenacity (full-jitter `Backoff`, a
per-run `RetryBudget`); ambiguous answers are reconciled, never resent blindly. Every
HTTP attempt is one ``rerun.attempt`` structlog event; the library never configures logging.
"""

from ._adaptive import AdaptiveLimiter, CubicRate
from ._attempt import RerunClient
from ._backoff import Backoff, RetryBudget
from ._concurrency import ConcurrencyLimiter, KeyedLimiter
from ._doubt import ChunkReconciler
from ._events import (
    AttemptFinished,
    ChunkEvent,
    ChunkFinished,
    ChunkReconciled,
    RunEvent,
    RunFinished,
    RunStarted,
    StopRequested,
    Throttled,
)
from ._executor import open_run, run_plan
from ._finder import InstanceFinder, InstanceLister, InstanceSource
from ._guard import ServerGuard
from ._handle import RunCancelledError, RunHandle, start_run
from ._jobs import DayGuard
from ._judge import judge_instances
from ._limiter import LimiterRegistry, Pacer, RateLimiter, shared_limiters
from ._offloop import close_journal, journal_status, open_plan_journal, plan_report
from ._options import RunPolicy, RunWiring
from ._policy import ON_RECONCILIATION, ON_VERDICT, Action
from ._reconcile import Reconciler
from ._registry import Account, AccountPacer, AccountRegistry, default_accounts
from ._result import RunResult, RunStats, StatusCounts
from ._streams import JobKey, JobStream, job_streams

__all__ = [
    "ON_RECONCILIATION",
    "ON_VERDICT",
    "Account",
    "AccountPacer",
    "AccountRegistry",
    "Action",
    "AdaptiveLimiter",
    "AttemptFinished",
    "Backoff",
    "ChunkEvent",
    "ChunkFinished",
    "ChunkReconciled",
    "ChunkReconciler",
    "ConcurrencyLimiter",
    "CubicRate",
    "DayGuard",
    "InstanceFinder",
    "InstanceLister",
    "InstanceSource",
    "JobKey",
    "JobStream",
    "KeyedLimiter",
    "LimiterRegistry",
    "Pacer",
    "RateLimiter",
    "Reconciler",
    "RerunClient",
    "RetryBudget",
    "RunCancelledError",
    "RunEvent",
    "RunFinished",
    "RunHandle",
    "RunPolicy",
    "RunResult",
    "RunStarted",
    "RunStats",
    "RunWiring",
    "ServerGuard",
    "StatusCounts",
    "StopRequested",
    "Throttled",
    "close_journal",
    "default_accounts",
    "job_streams",
    "journal_status",
    "judge_instances",
    "open_plan_journal",
    "open_run",
    "plan_report",
    "run_plan",
    "shared_limiters",
    "start_run",
]
