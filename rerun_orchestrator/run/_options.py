"""`run_plan`'s two option objects: how a run behaves, and what it talks to.

`RunPolicy` holds the knobs (retry failed chunks, a deliberate rerun's generation, the
retry budget and backoff, a run id for logs and events); `RunWiring` the collaborators (the
client, the journal, the reconciler and guard, the pacers, the clock, the callbacks). Both
are frozen: a service builds one wiring per account and journal, and derives per-run
variants with `dataclasses.replace`.

The keyword arguments `run_plan` took before (``run_plan(plan, client=..., journal=...,
retry_failed=True)``) still work for this release and are merged into the objects; they
go in the next (see CHANGELOG).
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import anyio

from .._clock import Clock
from ..journal._store import Journal
from ._admission import Gate
from ._attempt import RerunClient
from ._backoff import Backoff, RetryBudget
from ._capacity import InstanceGate
from ._concurrency import ConcurrencyLimiter
from ._doubt import ChunkReconciler
from ._events import RunEvent
from ._jobs import DayGuard
from ._limiter import Pacer
from ._registry import Account, AccountRegistry
from ._result import RunStats
from ._separation import DEFAULT_SEPARATION
from ._stall import DEFAULT_STALL_TIMEOUT


def new_run_id() -> str:
    """A short random id naming one run in logs, events and metrics' exemplars."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPolicy:
    """How a run behaves.

    Attributes:
        retry_failed: also resend chunks that failed permanently in an earlier run.
        generation: 0, or the generation of a deliberate rerun (``--rerun-succeeded``):
            days covered only by earlier generations are sent again, once.
        budget, backoff: the retry policy (defaults: 10% of first attempts + 10 retries;
            full jitter 1 s .. 20 s).
        run_id: names the run in events and logs; None (the default): a new random id
            for each run, so that one policy serves many runs.
        stall_timeout: stop (exit 1, chunks pending) once no chunk has settled for this
            many seconds; transient trouble never fails a chunk, this bounds the run.
        ignore_windows: send outside the plan's ``execution.windows`` too (by default
            each attempt waits for a window to open: `run._windows`).
        separation: a chunk is sent no sooner than this after another record of its days
            was answered (`run._separation.separation_for`: 2 x the clock skew + the
            reconciler's settle time + 2 s).
    """

    retry_failed: bool = False
    generation: int = 0
    budget: RetryBudget | None = None
    backoff: Backoff | None = None
    run_id: str | None = None
    stall_timeout: float = DEFAULT_STALL_TIMEOUT
    ignore_windows: bool = False
    separation: float = DEFAULT_SEPARATION


@dataclass(frozen=True, slots=True, kw_only=True)
class RunWiring:
    """What a run talks to.

    Attributes:
        client: sends one RerunJob attempt per call (a `SchedulerXClient`).
        journal: durable state of the plan's days; not closed by the run.
        reconciler: settles ambiguous outcomes (`Account.reconciler(...)` or a
            `journal.Reconciler`); without one they end as unknown.
        guard: checks days the journal never saw against the server (`ServerGuard`).
        account: the quota holder (an `Account`, or its name in `accounts`): its RerunJob
            pacer and concurrency cap are used unless `limiter`/`concurrency` are given.
        accounts: the registry `account` names are looked up in (`default_accounts`).
        limiter: a pacer of your own (overrides the account's); without either, the run
            paces itself alone at the plan's rate.
        concurrency: a cap on calls in flight to share with other runs.
        clock, rng: time and jitter (tests inject `FakeClock` and a seeded Random).
        on_event: called with every `RunEvent` (they are also logged).
        stats: a `RunStats` to keep up to date (a progress display reads it).
        stop: set it to stop gracefully: nothing new is sent, calls in flight finish.
        stop_requested: also polled as a stop (a signal handler's own flag, seen even
            while a blocking step holds the event loop).
        capacity: caps on this backfill's active instances per job and group
            (`run._capacity.InstanceGate`); chunks are cut to what is free, and whoever
            watches the instances end gives their days back (`InstanceGate.release`).
        gates: more gates a chunk passes before capacity (production first:
            `run._production.ProductionGate`).
    """

    client: RerunClient
    journal: Journal
    reconciler: ChunkReconciler | None = None
    guard: DayGuard | None = None
    account: Account | str | None = None
    accounts: AccountRegistry | None = None
    limiter: Pacer | None = None
    concurrency: ConcurrencyLimiter | None = None
    clock: Clock | None = None
    rng: random.Random | None = None
    on_event: Callable[[RunEvent], None] | None = None
    stats: RunStats | None = None
    stop: anyio.Event | None = None
    stop_requested: Callable[[], bool] | None = None
    capacity: InstanceGate | None = None
    gates: Sequence[Gate] = ()


class LegacyOptions(TypedDict, total=False):
    """The keyword arguments of `run_plan` before the option objects (one more release)."""

    client: RerunClient
    journal: Journal
    reconciler: ChunkReconciler | None
    limiter: Pacer | None
    account: Account | str | None
    concurrency: ConcurrencyLimiter | None
    clock: Clock | None
    rng: random.Random | None
    retry_failed: bool
    on_event: Callable[[RunEvent], None] | None
    stop: anyio.Event | None
    budget: RetryBudget | None
    backoff: Backoff | None
    stats: RunStats | None
    guard: DayGuard | None
    generation: int
    stall_timeout: float
    stop_requested: Callable[[], bool] | None
    ignore_windows: bool
    capacity: InstanceGate | None
    gates: Sequence[Gate]


_POLICY_FIELDS = frozenset(f.name for f in dataclasses.fields(RunPolicy))
_WIRING_FIELDS = frozenset(f.name for f in dataclasses.fields(RunWiring))


def merge_options(
    wiring: RunWiring | None, policy: RunPolicy | None, legacy: LegacyOptions
) -> tuple[RunWiring, RunPolicy]:
    """The option objects, with any old-style keyword arguments folded in, and the run's
    id chosen (`RunPolicy.run_id` is never None after this).

    Raises:
        TypeError: an unknown keyword, or no client and journal anywhere.
    """
    options: dict[str, Any] = dict(legacy)
    unknown = options.keys() - _POLICY_FIELDS - _WIRING_FIELDS
    if unknown:
        raise TypeError(f"run_plan() got unexpected keyword arguments {sorted(unknown)}")
    policy_changes = {k: v for k, v in options.items() if k in _POLICY_FIELDS}
    wiring_changes = {k: v for k, v in options.items() if k in _WIRING_FIELDS}
    policy = dataclasses.replace(policy or RunPolicy(), **policy_changes)
    if policy.run_id is None:
        policy = dataclasses.replace(policy, run_id=new_run_id())
    if wiring is None:
        if "client" not in wiring_changes or "journal" not in wiring_changes:
            raise TypeError("run_plan() needs a RunWiring (or client= and journal=)")
        wiring = RunWiring(**wiring_changes)
    elif wiring_changes:
        wiring = dataclasses.replace(wiring, **wiring_changes)
    return wiring, policy


__all__ = ["LegacyOptions", "RunPolicy", "RunWiring", "merge_options", "new_run_id"]
