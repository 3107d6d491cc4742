"""The retry policy as tables: what an attempt's verdict means for its chunk.

The client classifies each HTTP attempt (`schedulerx.classify`: could the call have been
applied?); these tables turn that verdict into what the executor does next. tenacity runs
the loop (`_chunk.py`); the tables decide.

    verdict     action      what happens to the chunk
    ----------  ----------  ---------------------------------------------------------------
    SUCCEEDED   SUCCEED     succeeded
    RETRY       BACKOFF     pending, resent after full-jitter backoff (a throttle also cuts
                            the rate and honours x-acs-retry-after); never failed: after
                            max_attempts in a round it pauses and starts another round,
                            with the retry budget spent it waits for the retry gate
    RESIGN      RESIGN      pending, resent at once, freshly signed; once per chunk (a
                            second one fails it: the clock or the keys need a human)
    AMBIGUOUS   RECONCILE   unknown until GetJobInstanceList settles it (table below);
                            never resent blindly: RerunJob is not idempotent
    PERMANENT   FAIL        failed with the server's code and message; the table's scope
                            "location" also counts for the location breaker; scope "run"
                            HALTs: pending (the gateway refused who is asking before
                            SchedulerX saw it), and the run stops sending

    reconciliation  action      chunk
    --------------  ----------  -------------------------------------------------------
    FOUND           SUCCEED     succeeded, with the instance ids found
    ABSENT          BACKOFF     pending, resent like a RETRY
    UNDECIDABLE     GIVE_UP     unknown, with why; a later run checks again

The `outcome` field of the ``rerun.attempt`` log line follows from the action (and, for a
retry, from whether it was granted): see `attempt_outcome`.
"""

from __future__ import annotations

import enum
from types import MappingProxyType
from typing import Final, Literal

from ..journal._model import ReconcileOutcome
from ..schedulerx._wire import AttemptResult, Scope, Verdict


class Action(enum.Enum):
    SUCCEED = "succeed"
    BACKOFF = "backoff"
    RESIGN = "resign"
    RECONCILE = "reconcile"
    FAIL = "fail"
    GIVE_UP = "give_up"  # the outcome stays unknown


ON_VERDICT: Final = MappingProxyType(
    {
        Verdict.SUCCEEDED: Action.SUCCEED,
        Verdict.RETRY: Action.BACKOFF,
        Verdict.RESIGN: Action.RESIGN,
        Verdict.AMBIGUOUS: Action.RECONCILE,
        Verdict.PERMANENT: Action.FAIL,
    }
)

ON_RECONCILIATION: Final = MappingProxyType(
    {
        ReconcileOutcome.FOUND: Action.SUCCEED,
        ReconcileOutcome.ABSENT: Action.BACKOFF,
        ReconcileOutcome.UNDECIDABLE: Action.GIVE_UP,
    }
)


def halts_the_run(result: AttemptResult) -> bool:
    """A refusal that every chunk of this run would get: the classification table's
    run-scoped rows (`schedulerx._classify.CODE_TABLE`), refusals of who is asking, not of
    what is asked. Sending the other chunks would only spend the account's shared quota on
    refusals. A run-scoped RESIGN row (clock skew, an expired token) reaches FAIL, and so
    this, only after a re-signed resend was refused too."""
    return result.scope is Scope.RUN


AttemptOutcome = Literal["succeeded", "retrying", "failed", "unknown"]


def attempt_outcome(action: Action, *, retry_granted: bool) -> AttemptOutcome:
    """The contract's ``outcome`` of one attempt, from its action.

    An ambiguous attempt is "unknown" even if reconciliation later settles it: the log
    line says what the attempt itself showed, reconciliation has its own events.
    """
    if action is Action.SUCCEED:
        return "succeeded"
    if action is Action.RECONCILE:
        return "unknown"
    if action in (Action.BACKOFF, Action.RESIGN):
        return "retrying" if retry_granted else "failed"
    return "failed"
