"""Rates in log lines read as the plan writes them ("100/min" beside the number), and the
number itself has no 15 decimals."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from rerun_orchestrator.plan._rate import format_rate
from rerun_orchestrator.run import RunStarted, Throttled
from rerun_orchestrator.run._events import EventSink


@pytest.mark.parametrize(
    ("per_second", "text"),
    [
        (100 / 60, "100/min"),
        (1 / 60, "1/min"),
        (0.5, "30/min"),
        (1.0, "1/s"),
        (2.5, "2.5/s"),
        (50.0, "50/s"),
        (24.999999999999996 / 60, "25/min"),
        (0.0, "0/s"),
    ],
)
def test_format_rate(per_second: float, text: str) -> None:
    assert format_rate(per_second) == text


def test_throttle_and_start_lines_carry_the_rate_as_a_person_reads_it() -> None:
    sink = EventSink(run_id="r1", plan="p")
    with capture_logs() as logs:
        sink.emit(Throttled("k", "Throttling.User", None, 100 / 60, 100 / 60 * 0.7))
        sink.emit(RunStarted("p", 3, 0, 0, 0, 3, 100 / 60, 4, False))
    throttle, started = logs
    assert throttle == {
        "event": "rerun.throttle",
        "log_level": "warning",
        "run_id": "r1",
        "plan": "p",
        "region": None,
        "namespace": None,
        "group_id": None,
        "first_day": None,
        "last_day": None,
        "days": None,
        "chunk": "k",
        "code": "Throttling.User",
        "retry_after_ms": None,
        "rate_before": 1.66667,
        "rate_before_text": "100/min",
        "rate": 1.16667,
        "rate_text": "70/min",
    }
    assert (started["rate"], started["rate_text"]) == (1.66667, "100/min")
