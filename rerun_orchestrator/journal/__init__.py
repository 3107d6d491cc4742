"""The journal: durable chunk state, resume after any crash, reconciliation of unknowns.

RerunJob is not idempotent, so the journal is what lets a user type the same command
again and trust the result: a chunk is marked in flight durably before its request is
written, its outcome after; a chunk found in flight or unknown is checked with
GetJobInstanceList (`rerun_orchestrator.run.Reconciler`) before anything is resent.

The journal is storage only: it imports no client (``tests/test_layering.py``).
`Reconciler`, `InstanceLister` and `judge_instances`, which lived here in 0.x, moved next
to the executor; they are still found here, imported from `run` on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING

from .._lazy import lazy_exports as _lazy_exports

# public name -> the private module that defines it; imported on first use (PEP 562), so that
# `status` loads the SQLite journal and its renderer, not the reconciler and its HTTP stack
_EXPORTS: dict[str, str] = {
    "DayCoveredError": "._errors",
    "InvalidTransitionError": "._errors",
    "JournalError": "._errors",
    "JournalLockedError": "._errors",
    "JournalMismatchError": "._errors",
    "JournalReplacedError": "._lock",
    "LeaseLostError": "._lease",
    "open_journal": "._locate",
    "PostgresJournal": "._postgres",  # needs the [postgres] extra (psycopg)
    "MemoryJournal": "._memory",
    "ChunkRecord": "._model",
    "ChunkStatus": "._model",
    "JobFactsEntry": "._model",
    "JobIdentity": "._model",
    "JournalMeta": "._model",
    "PlanEntry": "._model",
    "ReconcileOutcome": "._model",
    "Reconciliation": "._model",
    "build_report": "._report",
    "settle_by_hand": "._settle",
    "SqliteJournal": "._sqlite",
    "render_status": "._status",
    "Journal": "._store",
    "SyncSummary": "._store",
}

# moved out of the journal (which imports no client); absolute, found in `run` on first use
_MOVED: dict[str, str] = {
    "InstanceLister": "rerun_orchestrator.run._finder",
    "Reconciler": "rerun_orchestrator.run._reconcile",
    "judge_instances": "rerun_orchestrator.run._judge",
}

__all__ = [
    "ChunkRecord",
    "ChunkStatus",
    "DayCoveredError",
    "InvalidTransitionError",
    "JobFactsEntry",
    "JobIdentity",
    "Journal",
    "JournalError",
    "JournalLockedError",
    "JournalMeta",
    "JournalMismatchError",
    "JournalReplacedError",
    "LeaseLostError",
    "MemoryJournal",
    "PlanEntry",
    "PostgresJournal",
    "ReconcileOutcome",
    "Reconciliation",
    "SqliteJournal",
    "SyncSummary",
    "build_report",
    "open_journal",
    "render_status",
    "settle_by_hand",
]


__getattr__, __dir__ = _lazy_exports(__name__, {**_EXPORTS, **_MOVED}, globals(), __all__)

if _TYPE_CHECKING:
    from ._errors import (
        DayCoveredError,
        InvalidTransitionError,
        JournalError,
        JournalLockedError,
        JournalMismatchError,
    )
    from ._lease import LeaseLostError
    from ._locate import open_journal
    from ._lock import JournalReplacedError
    from ._memory import MemoryJournal
    from ._model import (
        ChunkRecord,
        ChunkStatus,
        JobFactsEntry,
        JobIdentity,
        JournalMeta,
        PlanEntry,
        ReconcileOutcome,
        Reconciliation,
    )
    from ._postgres import PostgresJournal
    from ._report import build_report
    from ._settle import settle_by_hand
    from ._sqlite import SqliteJournal
    from ._status import render_status
    from ._store import Journal, SyncSummary
