"""The argument parser: one line per refusal, and the options several verbs share."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, NoReturn

from . import _option_types as types


class UsageError(Exception):
    """A command line argparse refused: one line, exit 2, nothing opened or sent."""


def _terminal_columns() -> int:
    """`shutil.get_terminal_size().columns`, without importing shutil."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


class HelpFormatter(argparse.HelpFormatter):
    """argparse's, the same width found the same way, but without importing shutil (and
    the compression modules it imports): argparse makes a formatter for every option it
    adds, and that import was 2-3 ms of every command's start (issue 13)."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        if width is None:
            width = _terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)


class Parser(argparse.ArgumentParser):
    """argparse, but a refusal is one line naming the command (no usage dump, no exit)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)  # sub-parsers are Parsers too
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        # Arguments are quoted in the message; a newline or a control in one stays visible
        # and the refusal stays one line.
        shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
        raise UsageError(f"{self.prog}: {shown} (see {self.prog} --help)")


MAX_CHUNKS = types.count("max_chunks")


def add_max_chunks(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-chunks", type=MAX_CHUNKS, help="refuse larger plans")


def add_connection(parser: argparse.ArgumentParser, *, timeout_help: str) -> None:
    """`run`'s and `check`'s way to the server: endpoint, simulator, timeout, profile."""
    parser.add_argument(
        "--endpoint",
        type=types.endpoint,
        help="override the regional endpoint (http:// only to loopback; HOST:PORT of a "
        "loopback host means http://HOST:PORT)",
    )
    parser.add_argument(
        "--simulate", action="store_true", help="run against an in-process simulator"
    )
    parser.add_argument(
        "--timeout", type=types.seconds(minimum=0.1), default=None, help=timeout_help
    )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        help="credentials of this profile only, as `aliyun --profile`: the aliyun CLI "
        "config's profile NAME, else the credentials file's section [NAME] (not the "
        "environment's keys; overrides ALIBABA_CLOUD_PROFILE)",
    )


def check_connection(prog: str, verb: str, args: argparse.Namespace) -> None:
    """Options on credentials mean nothing to the simulator: refused, not ignored."""
    if args.simulate and args.profile is not None:
        raise UsageError(
            f"{prog} {verb}: --profile chooses real credentials; --simulate uses throwaway ones"
        )
    if args.profile is not None and not args.profile.strip():
        raise UsageError(f"{prog} {verb}: --profile needs a profile name")
