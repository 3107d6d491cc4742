"""Plans: YAML backfill plans, their validation, and their lazy expansion into chunks.

A plan names jobs x date windows at SchedulerX locations; `load_plan` or `check_plan` turn a
file into an immutable `Plan` (or every problem as a positioned `Diagnostic`), and
`Plan.chunks()` yields the RerunJob calls it stands for, lazily, in plan order. Nothing in
this package sends anything or touches the network.
"""

from ._diagnostics import Diagnostic, PlanError, Severity
from ._loader import DEFAULT_CHUNK_DAYS, check_plan, check_plan_text, load_plan
from ._many import PlanCheck, check_plans
from ._model import DEFAULT_MAX_CHUNKS, Chunk, Execution, Order, Rate, chunk_key
from ._plan import JobSet, Plan, Target, Window
from ._positions import job_positions, job_positions_of_file
from ._rate import format_duration, parse_rate
from ._render import render_jsonl, render_table
from ._schema import plan_json_schema
from ._sources import load_plan_mapping, load_plan_text

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
