"""`settle KEY... --as succeeded|pending`: a person's decision on unknown chunks."""

from __future__ import annotations

import argparse
import sys

from .._exit_codes import ExitCode
from ._parser import Parser


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    settle = commands.add_parser(
        "settle", help="record what you found for unknown chunks (after checking the console)"
    )
    settle.add_argument("keys", nargs="+", metavar="KEY", help="chunk keys, as `status` lists them")
    settle.add_argument("--journal", required=True)
    settle.add_argument(
        "--as",
        dest="settle_as",
        required=True,
        choices=("succeeded", "pending"),
        help="succeeded: its days are there; pending: they are not, the next run sends it",
    )
    settle.add_argument("--reason", required=True, help="why; kept in the journal")


def command(args: argparse.Namespace) -> int:
    from ..journal import (  # noqa: PLC0415 - keep start-up light
        ChunkStatus,
        JournalError,
        JournalLockedError,
        settle_by_hand,
    )
    from ..journal._locate import open_existing  # noqa: PLC0415

    try:
        with open_existing(args.journal) as journal:
            records = settle_by_hand(journal, args.keys, ChunkStatus(args.settle_as), args.reason)
    except JournalError as exc:  # also InvalidTransitionError and a journal a run holds
        print(f"rerun-orchestrator settle: {exc}", file=sys.stderr)
        busy = isinstance(exc, JournalLockedError)  # a run holds it: try later
        return ExitCode.JOURNAL_BUSY if busy else ExitCode.USAGE
    for record in records:
        print(f"{record.key}: {record.status} ({record.reason})")
    return ExitCode.OK
