"""`simulate`: serve the SchedulerX simulator until stopped."""

from __future__ import annotations

import argparse
import sys

from .._exit_codes import ExitCode
from . import _option_types as types
from ._parser import Parser


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    simulate = commands.add_parser("simulate", help="serve the SchedulerX simulator until stopped")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=types.port, default=0)
    simulate.add_argument("--config", help="simulator YAML config")


def command(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415 heavy imports stay inside their command

    from ..simulator import SimulatorConfigError, serve  # noqa: PLC0415

    try:
        asyncio.run(serve(args.host, args.port, args.config, stdout=sys.stdout))
    except SimulatorConfigError as exc:
        if len(exc.problems) > 1:
            print(f"rerun-orchestrator simulate: {len(exc.problems)} problems", file=sys.stderr)
        for problem in exc.problems:
            print(f"rerun-orchestrator simulate: {problem}", file=sys.stderr)
        return ExitCode.USAGE
    except OSError as exc:  # the address is taken or cannot be bound
        print(f"rerun-orchestrator simulate: cannot listen: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    return ExitCode.OK
