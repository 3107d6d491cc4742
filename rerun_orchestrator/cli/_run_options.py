"""`run`'s command-line arguments, checked and resolved before anything is sent.

`prepare` loads the plan, applies `--rate`/`--concurrency`, and turns the rest of the
arguments into `run._run_options.RunOptions`; whatever it refuses is a `UsageError`
(exit 2, nothing sent).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..plan import Plan, PlanError, load_plan, parse_rate
from ..run._ledger_options import parse_duration
from ..run._neighbour import NeighbourError, refuse_unwatched_caps
from ..run._run_options import RunOptions, UsageError
from ..schedulerx import EndpointError, Timeouts, check_endpoint_override, resolve_endpoint


def timeouts_of(seconds: float | None) -> Timeouts | None:
    """`--timeout`: the whole attempt, connecting included, takes at most `seconds`."""
    if seconds is None:
        return None
    return Timeouts(connect=min(Timeouts().connect, seconds), read=seconds, total=seconds)


def prepare(args: argparse.Namespace) -> tuple[Plan, RunOptions]:
    if args.simulate and args.endpoint:
        raise UsageError("--simulate and --endpoint exclude each other")
    try:
        plan = load_plan(args.plan, max_chunks=args.max_chunks)
    except PlanError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot read plan {args.plan}: {exc.strerror or exc}") from None
    try:
        refuse_unwatched_caps(plan, watch=not getattr(args, "no_watch", False))
    except NeighbourError as exc:
        raise UsageError(f"{args.plan}: {exc}") from None
    changes: dict[str, Any] = {}
    try:
        if args.rate:
            changes["rate"] = parse_rate(args.rate)
        if args.concurrency is not None:
            changes["concurrency"] = args.concurrency
        if changes:
            plan = plan.with_execution(**changes)
        simulate_quota = parse_rate(args.simulate_quota) if args.simulate_quota else None
        # --read-rate, else the plan's execution.read_rate (default 100/min)
        read_rate = parse_rate(args.read_rate) if args.read_rate else plan.execution.read_rate
        if args.simulate and not args.read_rate:  # the simulator reads as fast as it reruns
            read_rate = simulate_quota or plan.execution.rate
    except ValueError as exc:
        raise UsageError(f"bad option: {exc}") from None
    if args.timeout is not None and not args.timeout > 0:
        raise UsageError("--timeout must be a positive number of seconds")
    if not 0 < args.stall_timeout < float("inf"):
        raise UsageError("--stall-timeout must be a positive, finite number of seconds")
    if args.settle_seconds < 0:
        raise UsageError("--settle-seconds must be >= 0")
    try:
        lookback = parse_duration(args.lookback)
    except ValueError:
        raise UsageError(
            f"--lookback {args.lookback!r}: give a duration such as 7d, 36h or 0"
        ) from None
    endpoint = None
    try:
        if args.endpoint:
            endpoint = check_endpoint_override(args.endpoint)
        elif not args.simulate:
            # Refuse an unmapped region now rather than with the first of its chunks mid-run.
            for region in sorted({job_set.region for job_set in plan.job_sets()}):
                resolve_endpoint(region)
    except EndpointError as exc:
        raise UsageError(str(exc)) from None
    options = RunOptions(
        simulate=args.simulate,
        endpoint=endpoint,
        retry_failed=args.retry_failed,
        progress=not args.no_progress and sys.stderr.isatty(),
        settle_seconds=args.settle_seconds,
        clock_skew=getattr(args, "clock_skew", 300.0),
        timeouts=timeouts_of(args.timeout),
        simulate_quota=simulate_quota,
        read_rate=read_rate,
        lookback_seconds=lookback,
        rerun_succeeded=args.rerun_succeeded,
        ignore_windows=getattr(args, "ignore_windows", False),
        preflight=not getattr(args, "no_preflight", False),
        stall_timeout=args.stall_timeout,
        watch=not getattr(args, "no_watch", False),
        # the simulator's instances run 0.2 s: watch them at that pace, not a real job's
        watch_poll=getattr(args, "watch_poll", None) or (0.2 if args.simulate else 2.0),
        appear_seconds=getattr(args, "appear_seconds", 600.0),
        profile=getattr(args, "profile", None),
    )
    return plan, options


__all__ = ["prepare"]
