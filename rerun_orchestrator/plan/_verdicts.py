"""`validate`'s verdicts for people, for programs and for GitHub: text, JSON, annotations.

The same checks, three shapes: ``PATH:LINE:COL: message`` lines (editors and compilers'
convention), one JSON document (`--format json`), and GitHub Actions workflow commands
(``::error file=…,line=…,col=…::message``) that a CI job turns into annotations on the
pull request's diff. `strict` counts warnings as failures in every shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from ._many import PlanCheck


def passed(check: PlanCheck, *, strict: bool) -> bool:
    """Whether a plan passes: no error, and with `strict` no warning either."""
    return check.ok and not (strict and check.diagnostics)


def write_text(checks: Iterable[PlanCheck], out: TextIO, err: TextIO, *, strict: bool) -> None:
    """Every problem on `err` as ``PATH:LINE:COL: [warning: ]message``; one line per
    passing plan on `out`."""
    for check in checks:
        for diagnostic in check.diagnostics:
            err.write(f"{diagnostic}\n")
        if check.plan is not None and passed(check, strict=strict):
            calls = _calls(check)
            noun = "call" if calls == 1 else "calls"
            out.write(f"{check.path}: ok: plan {check.plan.name}, {calls:,} {noun}\n")


def verdicts_json(checks: Iterable[PlanCheck], *, strict: bool) -> dict[str, Any]:
    """``{"plans": [{"path", "ok", "calls", "problems": [{"line", "col", "severity",
    "message"}]}]}``; `calls` is null for a plan with an error."""
    return {
        "plans": [
            {
                "path": check.path,
                "ok": passed(check, strict=strict),
                "calls": _calls(check) if check.plan is not None else None,
                "problems": [
                    {"line": d.line, "col": d.col, "severity": d.severity, "message": d.message}
                    for d in check.diagnostics
                ],
            }
            for check in checks
        ]
    }


def github_commands(checks: Iterable[PlanCheck]) -> Iterator[str]:
    """One workflow command per problem: ``::error file=PATH,line=L,col=C::MESSAGE``
    (``::warning`` for warnings), escaped as the Actions toolkit escapes them."""
    for check in checks:
        for d in check.diagnostics:
            where = f"file={_property(d.path)},line={d.line},col={d.col}"
            yield f"::{d.severity} {where}::{_data(d.message)}"


def _calls(check: PlanCheck) -> int:
    return check.plan.count_chunks() if check.plan is not None else 0


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
