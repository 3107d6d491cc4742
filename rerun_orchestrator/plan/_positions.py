"""Where each job entry of a plan is written: (line, column) for messages about that job.

A `Plan` is a value without positions (it is compared and hashed by what it sends); a
check that learns something about a job later, such as the pre-flight asking SchedulerX,
finds the entry again from the same text. The walk is the loader's (merge keys applied,
aliases followed), so the positions match what `check_plan` reported against.
"""

from __future__ import annotations

import os

from ._yaml import MappingNode, Reporter, SequenceNode, compose, mapping_items, position

Position = tuple[int, int]


def job_positions(text: str) -> dict[tuple[int, int], Position]:
    """``(target index, job entry index) -> (line, col)``, both 1-based positions.

    The indexes are those of `Plan.targets` and `Target.jobs` (entries as listed: ``123``
    and ``"200-210"`` are one entry each). A text that is not a plan gives what it can.
    """
    report = Reporter("")
    root = compose(text, report)
    if not isinstance(root, MappingNode):
        return {}
    targets = _value(root, "targets", report)
    if not isinstance(targets, SequenceNode):
        return {}
    found: dict[tuple[int, int], Position] = {}
    for target_index, target in enumerate(targets.value):
        if not isinstance(target, MappingNode):
            continue
        jobs = _value(target, "jobs", report)
        if isinstance(jobs, SequenceNode):
            for job_index, item in enumerate(jobs.value):
                found[(target_index, job_index)] = position(item)
    return found


def job_positions_of_file(path: str | os.PathLike[str]) -> dict[tuple[int, int], Position]:
    """`job_positions` of a plan file; empty when it cannot be read any more."""
    try:
        with open(path, encoding="utf-8") as stream:
            return job_positions(stream.read())
    except (OSError, UnicodeDecodeError):
        return {}


def _value(node: MappingNode, key: str, report: Reporter) -> object:
    return next((value for name, _, value in mapping_items(node, report) if name == key), None)
