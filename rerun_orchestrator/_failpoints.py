"""Named crash points for crash-consistency tests, in the spirit of etcd's gofail.

Off unless ``RERUN_ORCHESTRATOR_FAILPOINTS`` is set, e.g. ``after_mark_in_flight=3`` (the
process SIGKILLs itself the 3rd time it passes that point; several are comma-separated).
This is how the test suite proves that a `kill -9` at any moment loses nothing.

Points in use: ``before_mark_in_flight``, ``after_mark_in_flight`` (before the request),
``request_written`` (the request left, no answer read yet), ``after_response`` (answer read,
outcome not yet recorded), ``journal_write`` (inside a journal transaction, before commit),
``after_outcome``.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV_VAR = "RERUN_ORCHESTRATOR_FAILPOINTS"


def _parse(spec: str) -> dict[str, int]:
    points: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, nth = item.partition("=")
        points[name.strip()] = int(nth) if nth else 1
    return points


_armed = _parse(os.environ.get(ENV_VAR, ""))
_hits: Counter[str] = Counter()


def failpoint(name: str) -> None:
    """Die here with SIGKILL if this point is armed for this hit; otherwise do nothing."""
    if not _armed:
        return
    _hits[name] += 1
    if _armed.get(name) == _hits[name]:
        os.kill(os.getpid(), signal.SIGKILL)
