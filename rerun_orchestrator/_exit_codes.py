"""Every exit code of the `rerun-orchestrator` command, in one place.

A script or a CI job branches on these, so each means one thing whatever the command:

====  ================  =======================================================================
code  name              meaning
====  ================  =======================================================================
0     OK                done: every chunk (and, watched, every day's instance) succeeded;
                        `validate`/`check`: every plan is fine; `status`: read
1     INCOMPLETE        `run` finished and some chunks failed, are unknown or still pending, or a
                        day's instance failed; the journal could not be written (disk full);
                        `status --exit-code`: some planned day failed or has an unknown outcome
2     USAGE             usage, plan or credential error, nothing sent (the contract's 2);
                        `validate`: a plan is invalid; `check`: a job is wrong
3     NOT_DONE          `status --exit-code`: nothing failed, but some planned days are not done
                        yet (pending, or their instance still waits or runs): run or wait again
75    JOURNAL_BUSY      the journal is held by another `run` right now: try again later
                        (``EX_TEMPFAIL`` of sysexits.h); nothing was sent or written
130   INTERRUPTED       stopped by SIGINT or SIGTERM after a graceful stop; the same command
                        resumes
141   CONSOLE_CLOSED    the console went away (a closed pipe, 128 + SIGPIPE as a shell says it);
                        the run stopped gracefully
====  ================  =======================================================================
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """The exit codes of the command line (see the module's table)."""

    OK = 0
    INCOMPLETE = 1
    USAGE = 2
    NOT_DONE = 3
    JOURNAL_BUSY = 75
    INTERRUPTED = 130
    CONSOLE_CLOSED = 141

    # A log line, a report or a repr shows the number a shell sees, not <ExitCode.OK: 0>.
    __repr__ = int.__repr__
    __str__ = int.__repr__


__all__ = ["ExitCode"]
