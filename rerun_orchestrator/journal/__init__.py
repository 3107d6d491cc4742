"""The journal: durable chunk state, resume after any crash, reconciliation of unknowns.

RerunJob is not idempotent, so the journal is what lets a user type the same command
again and trust the result: a chunk is marked in flight durably before its request is
written, its outcome after; a chunk found in flight or unknown is checked with
GetJobInstanceList (`Reconciler`) before anything is resent.
"""

from ._errors import (
    DayCoveredError,
    InvalidTransitionError,
    JournalError,
    JournalLockedError,
    JournalMismatchError,
)
from ._judge import judge_instances
from ._lock import JournalReplacedError
from ._memory import MemoryJournal
from ._model import (
    ChunkRecord,
    ChunkStatus,
    JobIdentity,
    JournalMeta,
    PlanEntry,
    ReconcileOutcome,
    Reconciliation,
)
from ._reconcile import InstanceLister, Reconciler
from ._report import build_report
from ._settle import settle_by_hand
from ._sqlite import SqliteJournal
from ._status import render_status
from ._store import Journal, SyncSummary

__all__ = [
    "ChunkRecord",
    "ChunkStatus",
    "DayCoveredError",
    "InstanceLister",
    "InvalidTransitionError",
    "JobIdentity",
    "Journal",
    "JournalError",
    "JournalLockedError",
    "JournalMeta",
    "JournalMismatchError",
    "JournalReplacedError",
    "MemoryJournal",
    "PlanEntry",
    "ReconcileOutcome",
    "Reconciler",
    "Reconciliation",
    "SqliteJournal",
    "SyncSummary",
    "build_report",
    "judge_instances",
    "render_status",
    "settle_by_hand",
]
