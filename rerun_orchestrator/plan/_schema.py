"""The plan format as a JSON Schema, for editors that validate YAML as people type.

VS Code (YAML extension), JetBrains IDEs and others read it, e.g. via a first-line comment
``# yaml-language-server: $schema=plan.schema.json``. The schema describes the same format
as the validator (a test keeps keys and defaults in step); the validator remains the
authority, as some rules (overlapping days, zone names) are beyond what a schema can say.
"""

from __future__ import annotations

from typing import Any

from .._limits import INT_BOUNDS
from ._model import DEFAULT_CHUNK_DAYS, Execution
from ._rate import RATE_PATTERN

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


_HH_MM_PATTERN = "^([01][0-9]|2[0-3]):[0-5][0-9]$"


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of plan format version 1, as a fresh dict."""
    defaults = Execution()
    location: dict[str, Any] = {
        "region": {
            "type": "string",
            "pattern": "^[a-z0-9]+(-[a-z0-9]+)+$",
            "description": "SchedulerX region id, e.g. cn-hangzhou; also picks the endpoint.",
        },
        "namespace": {
            "type": "string",
            "minLength": 1,
            "description": "Namespace id (console: Namespace page), usually a UUID.",
        },
        "namespace_source": {
            "type": ["string", "null"],
            "description": "Optional NamespaceSource (special third parties only); default unset.",
        },
        "group": {
            "type": "string",
            "minLength": 1,
            "description": "Application group id (GroupId), e.g. testSchedulerx.defaultGroup.",
        },
        "data_time": {
            "type": "string",
            "pattern": "^[0-9]{1,2}:[0-9]{2}:[0-9]{2}$",
            "description": 'Time of day HH:MM:SS sent as DataTime (quote it: "10:00:00").',
        },
        "chunk_days": _bounded(
            "chunk_days",
            DEFAULT_CHUNK_DAYS,
            "Days per RerunJob call; a window's last chunk may be shorter.",
        ),
    }
    description = {"type": "string", "description": "Free text for people; ignored."}
    job = {
        "oneOf": [
            {"type": "integer", "minimum": 1},
            {"type": "string", "pattern": r"^\s*[0-9]+\s*(-\s*[0-9]+\s*)?$"},
        ],
        "description": 'A job id (123) or an inclusive range of ids ("200-210").',
    }
    window = {
        "type": "object",
        "properties": {
            "start": {"type": "string", "format": "date", "description": "First day, inclusive."},
            "end": {"type": "string", "format": "date", "description": "Last day, inclusive."},
        },
        "required": ["start", "end"],
        "additionalProperties": False,
    }
    target = {
        "type": "object",
        "description": "Jobs x windows; any location key here overrides the top level's.",
        "properties": {
            "description": description,
            **location,
            "jobs": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/job"}},
            "windows": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/window"}},
            "execution": {
                "type": "object",
                "description": "This target's own caps on active instances (good neighbour).",
                "properties": {
                    "max_active_per_job": {
                        "anyOf": [{"type": "integer", "minimum": 1}, {"const": "auto"}]
                    },
                    "max_active_per_group": {"type": "integer", "minimum": 1},
                },
                "additionalProperties": False,
            },
        },
        "required": ["jobs", "windows"],
        "additionalProperties": False,
    }
    execution = {
        "type": "object",
        "description": "How the plan is sent.",
        "properties": {
            "rate": {
                "type": "string",
                "pattern": RATE_PATTERN,
                "default": str(defaults.rate),
                "description": "Global RerunJob call rate: N/s, N/min or N/h (N may be a "
                "decimal). The documented quota is 100 calls/min per account.",
            },
            "concurrency": _bounded(
                "concurrency", defaults.concurrency, "Calls in flight at once."
            ),
            "max_attempts": _bounded(
                "max_attempts", defaults.max_attempts, "Attempts per chunk, first included."
            ),
            "order": {
                "enum": ["oldest_first", "newest_first"],
                "default": defaults.order,
                "description": "Which days are sent first.",
            },
            "per_job_concurrency": _bounded(
                "per_job_concurrency",
                defaults.per_job_concurrency,
                "Calls of one job in flight at once (the server queues a job's reruns).",
            ),
            "max_chunks": _bounded(
                "max_chunks", defaults.max_chunks, "Refuse the plan if it expands to more chunks."
            ),
            "account_quota": {
                "type": "string",
                "pattern": RATE_PATTERN,
                "default": str(defaults.account_quota),
                "description": "The account's RerunJob quota (SchedulerX documents 100/min); "
                "set it if yours was raised. A rate above it draws a warning.",
            },
            "max_active_per_job": {
                "anyOf": [{"type": "integer", "minimum": 1}, {"const": "auto"}],
                "default": "auto",
                "description": "This backfill's rerun instances of one job waiting or running "
                "at once; auto = the job's MaxConcurrency (GetJobInfo).",
            },
            "max_active_per_group": {
                "type": "integer",
                "minimum": 1,
                "description": "The same across the jobs of one application group "
                "(default: no cap).",
            },
            "read_rate": {
                "type": "string",
                "pattern": RATE_PATTERN,
                "default": str(defaults.read_rate),
                "description": "Pace of each read or instance API per account "
                "(--read-rate overrides it).",
            },
            "windows": {
                "type": "array",
                "minItems": 1,
                "description": "When RerunJob may be sent, in the plan's timezone (end before "
                "start wraps midnight); instances are watched at all times.",
                "items": {
                    "type": "object",
                    "properties": {
                        "days": {
                            "type": "string",
                            "pattern": "^(daily|weekdays|weekends|"
                            "(mon|tue|wed|thu|fri|sat|sun)(\\s*,\\s*(mon|tue|wed|thu|fri|sat|sun))*)$",
                        },
                        "start": {"type": "string", "pattern": _HH_MM_PATTERN},
                        "end": {"type": "string", "pattern": _HH_MM_PATTERN},
                    },
                    "required": ["days", "start", "end"],
                    "additionalProperties": False,
                },
            },
        },
        "additionalProperties": False,
    }
    # region, namespace, group and data_time: at the top, or else in every target.
    required_somewhere = [
        {
            "anyOf": [
                {"required": [key]},
                {"properties": {"targets": {"items": {"required": [key]}}}},
            ]
        }
        for key in ("region", "namespace", "group", "data_time")
    ]
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": "https://rerun-orchestrator.invalid/plan-v1.schema.json",
        "title": "rerun-orchestrator plan (version 1)",
        "description": "Jobs x date windows to rerun on Alibaba Cloud SchedulerX.",
        "type": "object",
        "properties": {
            "version": {"const": 1, "description": "Plan format version."},
            "name": {
                "type": "string",
                "pattern": "^[A-Za-z0-9._-]+$",
                "maxLength": 128,
                "description": "Names the backfill: journal, logs, report.",
            },
            "description": description,
            "timezone": {
                "type": "string",
                "description": "IANA zone in which calendar days are cut (Asia/Shanghai for cn-*).",
            },
            **location,
            "targets": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/target"}},
            "execution": execution,
        },
        "patternProperties": {"^x-": {"description": "Ignored: a home for YAML anchors."}},
        "required": ["version", "name", "timezone", "targets"],
        "additionalProperties": False,
        "allOf": required_somewhere,
        "$defs": {"job": job, "window": window, "target": target},
    }


def _bounded(what: str, default: int, description: str) -> dict[str, Any]:
    low, high = INT_BOUNDS[what]
    return {
        "type": "integer",
        "minimum": low,
        "maximum": high,
        "default": default,
        "description": description,
    }
