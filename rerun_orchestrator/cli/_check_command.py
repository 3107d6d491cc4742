"""The `check` command behind `cli._cmd_check`: plans in, diagnostics out, exit 0 or 2.

It takes `run`'s connection options (``--endpoint``, ``--simulate``, ``--timeout``) and
credentials, and asks SchedulerX about every job of every plan given (`preflight_plan`).
Bad jobs are printed on stderr as ``PATH:LINE:COL: job N: what is wrong``; a summary per
plan (or, with ``--format json``, one JSON document for CI) goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import sys
from contextlib import AsyncExitStack, nullcontext
from dataclasses import dataclass
from typing import Any

import anyio
import structlog

from .._exit_codes import ExitCode
from .._logsetup import configure
from ..plan import Plan, Rate, check_plan, parse_rate
from ..preflight._model import MemoryCache
from ..preflight._plan import DEFAULT_READ_RATE, PlanCheck, preflight_plan
from ..preflight._progress import ProgressBar
from ..schedulerx import (
    Credentials,
    CredentialsError,
    CredentialsProvider,
    EndpointError,
    SchedulerXClient,
    StaticCredentialsProvider,
    Timeouts,
    check_endpoint_override,
    default_credentials_provider,
)


class _UsageError(Exception):
    """Refused before anything was asked: exit 2 with this message."""


@dataclass(frozen=True, slots=True)
class _Options:
    endpoint: str | None
    simulate: bool
    timeouts: Timeouts | None
    read_rate: Rate
    progress: bool
    profile: str | None = None


def _options(args: argparse.Namespace) -> _Options:
    if args.simulate and args.endpoint:
        raise _UsageError("--simulate and --endpoint exclude each other")
    if args.timeout is not None and not args.timeout > 0:
        raise _UsageError("--timeout must be a positive number of seconds")
    try:
        read_rate = parse_rate(args.read_rate) if args.read_rate else DEFAULT_READ_RATE
        endpoint = check_endpoint_override(args.endpoint) if args.endpoint else None
    except (ValueError, EndpointError) as exc:
        raise _UsageError(str(exc)) from None
    return _Options(
        endpoint=endpoint,
        simulate=args.simulate,
        timeouts=_timeouts(args.timeout),
        read_rate=read_rate,
        progress=not args.no_progress and sys.stderr.isatty(),
        profile=getattr(args, "profile", None),
    )


def main(args: argparse.Namespace) -> int:
    """Check every plan given; exit 0 when every job of every plan is fine, 2 otherwise.

    Only warnings and errors are logged (on stderr); the caller's logging is restored.
    """
    saved = structlog.get_config()
    configure("console", level=logging.WARNING)
    try:
        return _main(args)
    finally:
        structlog.configure(**saved)


def _main(args: argparse.Namespace) -> int:
    try:
        options = _options(args)
    except _UsageError as exc:
        return _refuse(str(exc))
    plans: list[Plan] = []
    invalid = False
    for path in args.plans:
        plan, diagnostics = check_plan(path)
        for diagnostic in diagnostics:
            if diagnostic.is_error:
                print(diagnostic, file=sys.stderr)
        if plan is None:
            invalid = True
        else:
            plans.append(plan)
    if invalid:
        return ExitCode.USAGE
    try:
        checks = anyio.run(_check_all, plans, options)
    except _UsageError as exc:
        return _refuse(str(exc))
    except KeyboardInterrupt:  # nothing to keep: a check has no state
        print("rerun-orchestrator check: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    for check in checks:
        if args.format != "github":
            for line in check.diagnostics():
                print(line, file=sys.stderr)
        for note in check.report.notes:
            print(f"{check.path}: note: {note}", file=sys.stderr)
    if args.format == "github":
        for check in checks:
            for command in check.github():
                print(command)
    elif args.format == "json":
        document: dict[str, Any] = {"plans": [check.to_json() for check in checks]}
        print(json.dumps(document, indent=1, ensure_ascii=False))
    else:
        for check in checks:
            print(check.summary())
    return ExitCode.OK if all(check.ok for check in checks) else ExitCode.USAGE


def _timeouts(seconds: float | None) -> Timeouts | None:
    if seconds is None:
        return None
    return Timeouts(connect=min(Timeouts().connect, seconds), read=seconds, total=seconds)


async def _check_all(plans: list[Plan], options: _Options) -> list[PlanCheck]:
    cache = MemoryCache()  # a job listed by several plans is asked once
    checks = []
    async with AsyncExitStack() as stack:
        provider: CredentialsProvider
        if options.simulate:
            credentials = Credentials("sim-" + secrets.token_hex(8), secrets.token_urlsafe(24))
            provider = StaticCredentialsProvider(credentials)
        else:
            provider, credentials = await _credentials(options.profile)
        account = credentials.access_key_id
        del credentials
        for plan in plans:
            url = options.endpoint
            if options.simulate:
                url = await _simulator(plan, provider, stack)
            client = SchedulerXClient(provider, endpoint=url, timeouts=options.timeouts)
            async with client:
                display = ProgressBar(plan.name) if options.progress else nullcontext(None)
                with display as bar:
                    checks.append(
                        await preflight_plan(
                            plan,
                            client,
                            account=account,
                            read_rate=options.read_rate,
                            cache=cache,
                            on_progress=bar.update if bar is not None else None,
                        )
                    )
    return checks


async def _credentials(profile: str | None) -> tuple[CredentialsProvider, Credentials]:
    try:
        provider = default_credentials_provider(profile=profile)
        return provider, await provider.get_credentials()
    except CredentialsError as exc:
        raise _UsageError(str(exc)) from None


async def _simulator(plan: Plan, provider: CredentialsProvider, stack: AsyncExitStack) -> str:
    """A simulator that knows exactly the plan's jobs (as `run --simulate` starts)."""
    from ..run._simulate import simulator_for  # noqa: PLC0415 only for --simulate

    credentials = await provider.get_credentials()
    simulator = simulator_for(plan, credentials, plan.execution.rate)
    url = await simulator.start("127.0.0.1", 0)
    stack.push_async_callback(simulator.stop)
    return url


def _refuse(message: str) -> int:
    print(f"rerun-orchestrator check: {message}", file=sys.stderr)
    return ExitCode.USAGE
