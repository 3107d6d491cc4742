"""rerun-orchestrator: run large historical backfills on Alibaba Cloud SchedulerX.

The public API, for services that embed the tool (docs/library.md)::

    plan = load_plan_text(body, source="request 42")      # or load_plan / load_plan_mapping
    journal = await open_plan_journal("orders.sqlite", plan)  # off the event loop
    async with SchedulerXClient(default_credentials_provider()) as client:
        wiring = RunWiring(client=client, journal=journal, account=access_key_id,
                           reconciler=default_accounts.get(access_key_id).reconciler(
                               client, timezone=plan.timezone))
        run = start_run(plan, wiring, task_group=tg)          # or: await run_plan(...)
        result = await run.result()

Names are imported on first use (PEP 562), so ``rerun-orchestrator validate`` never loads
the HTTP stack. Everything in a ``_module`` is private; the subpackages (`plan`,
`schedulerx`, `run`, `journal`, `simulator`) export more for advanced use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "Chunk": "plan",
    "Diagnostic": "plan",
    "Execution": "plan",
    "Plan": "plan",
    "PlanError": "plan",
    "Rate": "plan",
    "check_plan": "plan",
    "load_plan": "plan",
    "load_plan_mapping": "plan",
    "load_plan_text": "plan",
    "parse_rate": "plan",
    "ApiCallError": "schedulerx",
    "AttemptResult": "schedulerx",
    "Credentials": "schedulerx",
    "CredentialsError": "schedulerx",
    "EndpointError": "schedulerx",
    "RerunJobParams": "schedulerx",
    "SchedulerXClient": "schedulerx",
    "SchedulerXError": "schedulerx",
    "StaticCredentialsProvider": "schedulerx",
    "Verdict": "schedulerx",
    "default_credentials_provider": "schedulerx",
    "AdaptiveLimiter": "run",
    "ConcurrencyLimiter": "run",
    "RateLimiter": "run",
    "RunEvent": "run",
    "RunResult": "run",
    "open_run": "run",
    "run_plan": "run",
    "shared_limiters": "run",
    "Account": "run",
    "AccountRegistry": "run",
    "AttemptFinished": "run",
    "ChunkEvent": "run",
    "ChunkFinished": "run",
    "ChunkReconciled": "run",
    "RunCancelledError": "run",
    "RunFinished": "run",
    "RunHandle": "run",
    "RunPolicy": "run",
    "RunStarted": "run",
    "RunWiring": "run",
    "StopRequested": "run",
    "Throttled": "run",
    "close_journal": "run",
    "default_accounts": "run",
    "journal_status": "run",
    "open_plan_journal": "run",
    "plan_report": "run",
    "start_run": "run",
    "ServerGuard": "run",
    "Reconciler": "run",
    "ChunkRecord": "journal",
    "ChunkStatus": "journal",
    "Journal": "journal",
    "JournalError": "journal",
    "JournalLockedError": "journal",
    "MemoryJournal": "journal",
    "SqliteJournal": "journal",
    "build_report": "journal",
    "Simulator": "simulator",
    "SimulatorConfig": "simulator",
    "Clock": "_clock",
    "SystemClock": "_clock",
}

__all__ = [
    "Account",
    "AccountRegistry",
    "AdaptiveLimiter",
    "ApiCallError",
    "AttemptFinished",
    "AttemptResult",
    "Chunk",
    "ChunkEvent",
    "ChunkFinished",
    "ChunkReconciled",
    "ChunkRecord",
    "ChunkStatus",
    "Clock",
    "ConcurrencyLimiter",
    "Credentials",
    "CredentialsError",
    "Diagnostic",
    "EndpointError",
    "Execution",
    "Journal",
    "JournalError",
    "JournalLockedError",
    "MemoryJournal",
    "Plan",
    "PlanError",
    "Rate",
    "RateLimiter",
    "Reconciler",
    "RerunJobParams",
    "RunCancelledError",
    "RunEvent",
    "RunFinished",
    "RunHandle",
    "RunPolicy",
    "RunResult",
    "RunStarted",
    "RunWiring",
    "SchedulerXClient",
    "SchedulerXError",
    "ServerGuard",
    "Simulator",
    "SimulatorConfig",
    "SqliteJournal",
    "StaticCredentialsProvider",
    "StopRequested",
    "SystemClock",
    "Throttled",
    "Verdict",
    "__version__",
    "build_report",
    "check_plan",
    "close_journal",
    "default_accounts",
    "default_credentials_provider",
    "journal_status",
    "load_plan",
    "load_plan_mapping",
    "load_plan_text",
    "open_plan_journal",
    "open_run",
    "parse_rate",
    "plan_report",
    "run_plan",
    "shared_limiters",
    "start_run",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from ._clock import Clock, SystemClock
    from .journal import (
        ChunkRecord,
        ChunkStatus,
        Journal,
        JournalError,
        JournalLockedError,
        MemoryJournal,
        SqliteJournal,
        build_report,
    )
    from .plan import (
        Chunk,
        Diagnostic,
        Execution,
        Plan,
        PlanError,
        Rate,
        check_plan,
        load_plan,
        load_plan_mapping,
        load_plan_text,
        parse_rate,
    )
    from .run import (
        Account,
        AccountRegistry,
        AdaptiveLimiter,
        AttemptFinished,
        ChunkEvent,
        ChunkFinished,
        ChunkReconciled,
        ConcurrencyLimiter,
        RateLimiter,
        Reconciler,
        RunCancelledError,
        RunEvent,
        RunFinished,
        RunHandle,
        RunPolicy,
        RunResult,
        RunStarted,
        RunWiring,
        ServerGuard,
        StopRequested,
        Throttled,
        close_journal,
        default_accounts,
        journal_status,
        open_plan_journal,
        open_run,
        plan_report,
        run_plan,
        shared_limiters,
        start_run,
    )
    from .schedulerx import (
        ApiCallError,
        AttemptResult,
        Credentials,
        CredentialsError,
        EndpointError,
        RerunJobParams,
        SchedulerXClient,
        SchedulerXError,
        StaticCredentialsProvider,
        Verdict,
        default_credentials_provider,
    )
    from .simulator import Simulator, SimulatorConfig
