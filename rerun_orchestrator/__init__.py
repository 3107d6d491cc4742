"""rerun-orchestrator: run large historical backfills on Alibaba Cloud SchedulerX.

The public API is re-exported here; everything in a ``_module`` is private.
"""

__version__ = "0.1.0"
