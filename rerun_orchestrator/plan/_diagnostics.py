"""Problems found in a plan, each pinned to a file position, and the error that carries them.

Validation never stops at the first problem: a plan is checked in CI, and one round trip per
typo is the experience we avoid. Every problem becomes a `Diagnostic`; `PlanError` carries
the whole list when a caller asked for a plan and there is none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in a plan file.

    `line` and `col` are 1-based, as editors and compilers print them. `str(d)` is the
    contract's ``PATH:LINE:COL: message`` (``PATH:LINE:COL: warning: message`` for warnings),
    which editors and CI annotators turn into clickable locations.
    """

    path: str
    line: int
    col: int
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.path}:{self.line}:{self.col}: {prefix}{self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def ordered(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Errors first, then warnings; each in file order (stable for the same position)."""
    return sorted(diagnostics, key=lambda d: (not d.is_error, d.path, d.line, d.col))


class PlanError(Exception):
    """A plan that cannot be used: `diagnostics` lists every problem, errors first."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics: list[Diagnostic] = ordered(diagnostics)
        errors = sum(d.is_error for d in self.diagnostics)
        head = f"invalid plan ({errors} error{'s' if errors != 1 else ''})"
        super().__init__("\n".join([head, *map(str, self.diagnostics)]))
