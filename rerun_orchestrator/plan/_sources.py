"""Plans that do not live in files: YAML text from a request, a mapping from a database.

A service takes plans over HTTP or keeps them in a table; both go through the very walk
that validates a plan file (`check_plan_text`), so every rule and every `PlanError` is the
same as for `load_plan`. A mapping is rendered to YAML first (keys in their order), so its
diagnostics point at lines of that rendering, and `source` names it in each of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from ._diagnostics import Diagnostic, PlanError
from ._loader import check_plan_text
from ._plan import Plan


def load_plan_text(text: str, *, source: str = "<string>", max_chunks: int | None = None) -> Plan:
    """The plan written in `text` (YAML, as in a plan file).

    Args:
        text: the YAML document.
        source: how diagnostics (and `Plan.path`) name it, e.g. ``"request 42"``.
        max_chunks: as for `load_plan`.

    Raises:
        PlanError: every error, positioned in `text` (warnings alone do not raise).
    """
    plan, diagnostics = check_plan_text(text, source, max_chunks=max_chunks)
    if plan is None:
        raise PlanError(diagnostics)
    return plan


def plan_mapping_text(mapping: Mapping[str, Any], *, source: str = "<mapping>") -> str:
    """`mapping` as the YAML document `load_plan_mapping` validates.

    Raises:
        PlanError: the mapping holds values YAML cannot represent (say, an object).
    """
    try:
        return yaml.safe_dump(_plain(mapping), sort_keys=False, allow_unicode=True)
    except yaml.representer.RepresenterError as exc:
        raise PlanError([Diagnostic(source, 1, 1, f"not a plan value: {exc.args[-1]!r}")]) from None


def load_plan_mapping(
    mapping: Mapping[str, Any], *, source: str = "<mapping>", max_chunks: int | None = None
) -> Plan:
    """The plan given as a mapping of plan keys (what ``yaml.safe_load`` of a plan file gives).

    Dates may be `datetime.date` values or ISO strings; rates strings such as ``"100/min"``.

    Raises:
        PlanError: as `load_plan_text`, positioned in the YAML rendering of `mapping`.
    """
    if not isinstance(mapping, Mapping):
        raise PlanError([Diagnostic(source, 1, 1, "a plan is a mapping of keys")])
    return load_plan_text(
        plan_mapping_text(mapping, source=source), source=source, max_chunks=max_chunks
    )


def _plain(value: Any) -> Any:
    """Mappings and sequences as dicts and lists, which `yaml.safe_dump` renders."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


__all__ = ["load_plan_mapping", "load_plan_text", "plan_mapping_text"]
