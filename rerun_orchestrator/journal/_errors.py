"""The journal's exceptions: a small tree, messages a user can act on.

    JournalError                 the journal cannot be used (missing, corrupt, newer schema)
     ├── JournalLockedError      another `run` holds the journal's run lock right now
     ├── JournalMismatchError    the journal was made for a different plan
     └── InvalidTransitionError  a write that would break the state machine (a bug in the caller)
          └── DayCoveredError    a chunk to send holds a day another record covers

Only `JournalLockedError` and `JournalMismatchError` are expected in normal use; the CLI
maps them to exit code 2. `InvalidTransitionError` exists so that a caller bug which could
resend a chunk blindly (say, a second `mark_in_flight` without settling the first) stops
the run instead of silently duplicating instances.
"""

from __future__ import annotations


class JournalError(Exception):
    """Base of every error raised by `rerun_orchestrator.journal`."""


class JournalLockedError(JournalError):
    """Another process holds the run lock of this journal."""

    def __init__(self, path: str, pid: int | None, since: str | None) -> None:
        self.path = path
        self.pid = pid
        self.since = since
        who = f"pid {pid}" if pid is not None else "another process"
        when = f" since {since}" if since else ""
        super().__init__(
            f"journal {path} is in use by {who}{when}; wait for that run to finish "
            "or stop it (a later run resumes where it stopped)"
        )


class JournalMismatchError(JournalError):
    """The journal records a different plan than the one being run."""

    def __init__(self, path: str, journal_plan: str, plan: str) -> None:
        self.path = path
        self.journal_plan = journal_plan
        self.plan = plan
        super().__init__(
            f"journal {path} belongs to plan {journal_plan!r}, not {plan!r}; "
            "pass --journal with another path, or run the plan it was made for"
        )


class InvalidTransitionError(JournalError):
    """A state change the journal refuses, because it could rerun or lose a day."""


class DayCoveredError(InvalidTransitionError):
    """A chunk may not be sent: another record covers one of its days.

    Raised by `mark_in_flight` before anything is written; the executor skips the chunk
    and derives the job's chunks again from the ledger.
    """

    def __init__(self, key: str, by_key: str, by_plan: str | None) -> None:
        self.key = key
        self.by_key = by_key
        self.by_plan = by_plan
        plan = f" of plan {by_plan!r}" if by_plan else ""
        super().__init__(
            f"chunk {key} was not sent: some of its days are covered by chunk {by_key}{plan}"
        )
