"""Test doubles for rerun-orchestrator and for the services that embed it.

Loaded by pytest at startup through the ``pytest11`` entry point, so it stays cheap to
import: only fixture definitions live at module level; the simulator is imported lazily.
"""

from __future__ import annotations
