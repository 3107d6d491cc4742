"""Plans: YAML backfill plans, their validation, and their lazy expansion into chunks.

A plan names jobs x date windows at SchedulerX locations; `load_plan` or `check_plan` turn a
file into an immutable `Plan` (or every problem as a positioned `Diagnostic`), and
`Plan.chunks()` yields the RerunJob calls it stands for, lazily, in plan order. Nothing in
this package sends anything or touches the network.

Names are imported on first use (PEP 562): `status` reads a journal whose records name
`Chunk` (``plan._model``) and should not pay for the YAML loader and the checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING

from .._lazy import lazy_exports as _lazy_exports

# public name -> the private module that defines it
_EXPORTS: dict[str, str] = {
    "Diagnostic": "._diagnostics",
    "PlanError": "._diagnostics",
    "Severity": "._diagnostics",
    "DEFAULT_CHUNK_DAYS": "._model",
    "check_plan": "._loader",
    "check_plan_text": "._loader",
    "load_plan": "._loader",
    "PlanCheck": "._many",
    "check_plans": "._many",
    "DEFAULT_MAX_CHUNKS": "._model",
    "Chunk": "._model",
    "Execution": "._model",
    "Order": "._model",
    "Rate": "._model",
    "chunk_key": "._model",
    "JobSet": "._plan",
    "Plan": "._plan",
    "Target": "._plan",
    "Window": "._plan",
    "job_positions": "._positions",
    "job_positions_of_file": "._positions",
    "format_duration": "._rate",
    "parse_rate": "._rate",
    "render_jsonl": "._render",
    "render_table": "._render",
    "plan_json_schema": "._schema",
    "load_plan_mapping": "._sources",
    "load_plan_text": "._sources",
}

__all__ = [
    "DEFAULT_CHUNK_DAYS",
    "DEFAULT_MAX_CHUNKS",
    "Chunk",
    "Diagnostic",
    "Execution",
    "JobSet",
    "Order",
    "Plan",
    "PlanCheck",
    "PlanError",
    "Rate",
    "Severity",
    "Target",
    "Window",
    "check_plan",
    "check_plan_text",
    "check_plans",
    "chunk_key",
    "format_duration",
    "job_positions",
    "job_positions_of_file",
    "load_plan",
    "load_plan_mapping",
    "load_plan_text",
    "parse_rate",
    "plan_json_schema",
    "render_jsonl",
    "render_table",
]


__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS, globals(), __all__)


if _TYPE_CHECKING:
    from ._diagnostics import Diagnostic, PlanError, Severity
    from ._loader import check_plan, check_plan_text, load_plan
    from ._many import PlanCheck, check_plans
    from ._model import (
        DEFAULT_CHUNK_DAYS,
        DEFAULT_MAX_CHUNKS,
        Chunk,
        Execution,
        Order,
        Rate,
        chunk_key,
    )
    from ._plan import JobSet, Plan, Target, Window
    from ._positions import job_positions, job_positions_of_file
    from ._rate import format_duration, parse_rate
    from ._render import render_jsonl, render_table
    from ._schema import plan_json_schema
    from ._sources import load_plan_mapping, load_plan_text
