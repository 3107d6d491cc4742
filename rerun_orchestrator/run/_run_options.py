"""What one `run` session is asked to do (`RunOptions`), already checked and resolved.

The CLI builds it from the command line (`cli._run_options.prepare`); whatever cannot be
done is a `UsageError` (exit 2, nothing sent), raised there or by the session.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..plan._model import Rate
from ..schedulerx import Timeouts
from ._guard import DEFAULT_LOOKBACK_SECONDS
from ._options import new_run_id
from ._separation import DEFAULT_CLOCK_SKEW
from ._stall import DEFAULT_STALL_TIMEOUT


class UsageError(Exception):
    """Refused before anything was sent: exit 2 with this message."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    simulate: bool
    endpoint: str | None
    retry_failed: bool
    progress: bool
    settle_seconds: float
    timeouts: Timeouts | None
    simulate_quota: Rate | None
    read_rate: Rate
    lookback_seconds: float = DEFAULT_LOOKBACK_SECONDS
    rerun_succeeded: bool = False
    ignore_windows: bool = False
    preflight: bool = True
    stall_timeout: float = DEFAULT_STALL_TIMEOUT
    watch: bool = True
    watch_poll: float = 2.0
    appear_seconds: float = 600.0
    clock_skew: float = DEFAULT_CLOCK_SKEW  # --clock-skew (tests): the server clock's lag
    profile: str | None = None  # --profile: that profile only (see default_credentials_provider)
    run_id: str = field(default_factory=new_run_id)  # the logs' and the report's


__all__ = ["RunOptions", "UsageError"]
