"""The journal API the executor codes against exists with the agreed signatures (the
`__all__` checks of every package are in tests/test_all_attributes.py)."""

from __future__ import annotations

import inspect

import rerun_orchestrator.journal as package
import rerun_orchestrator.run as run


def test_the_agreed_api_exists() -> None:
    open_ = inspect.signature(package.SqliteJournal.open)
    assert list(open_.parameters)[:4] == ["path", "plan_name", "plan_digest", "clock"]
    for name in ("plan_name", "plan_digest", "clock"):
        assert open_.parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert list(inspect.signature(package.SqliteJournal.open_readonly).parameters) == ["path"]
    reconciler = inspect.signature(run.Reconciler.__init__).parameters
    for name, default in {
        "clock": None,
        "acquire": None,
        "settle_seconds": 10.0,
        "clock_skew_seconds": 300.0,
        "page_size": 100,
    }.items():
        assert reconciler[name].default == default
    assert reconciler["timezone"].default is inspect.Parameter.empty
    judge = inspect.signature(run.judge_instances).parameters
    assert list(judge)[:5] == ["instances", "chunk", "attempt_started_at", "timezone", "skew"]
    assert list(inspect.signature(package.build_report).parameters) == [
        "journal",
        "plan_name",
        "keys",
    ]
    assert "fmt" in inspect.signature(package.render_status).parameters
    for error in (package.JournalLockedError, package.JournalMismatchError):
        assert issubclass(error, package.JournalError)
    for method in ("sync", "get", "records", "mark_in_flight", "record_outcome", "counts"):
        assert callable(getattr(package.MemoryJournal, method))
        assert callable(getattr(package.SqliteJournal, method))
