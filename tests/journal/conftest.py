"""Helpers for the journal tests: chunks built like the plan package builds them, a fake clock."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rerun_orchestrator.plan._model import Chunk, chunk_key

TZ = "Asia/Shanghai"


def midnight_ms(day: date, tz: str = TZ) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).timestamp() * 1000)


def make_chunk(
    job_id: int,
    first_day: date,
    days: int = 1,
    *,
    group_id: str = "g1",
    data_time: str = "10:00:00",
    tz: str = TZ,
) -> Chunk:
    last_day = first_day + timedelta(days=days - 1)
    fields = {
        "region": "cn-hangzhou",
        "namespace": "ns-1",
        "namespace_source": None,
        "group_id": group_id,
        "job_id": job_id,
        "first_day": first_day,
        "last_day": last_day,
        "data_time": data_time,
    }
    return Chunk(
        key=chunk_key(**fields),  # type: ignore[arg-type]
        start_date=midnight_ms(first_day, tz),
        end_date=midnight_ms(last_day, tz),
        days=days,
        **fields,  # type: ignore[arg-type]
    )


class FakeClock:
    """Time stands still until a test (or a sleep) moves it; sleeps are recorded."""

    def __init__(self, wall: float = 1_700_000_000.0) -> None:
        self._offset = wall
        self._mono = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._mono

    def wall(self) -> float:
        return self._offset + self._mono

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        self._mono += seconds


# With --import-mode=importlib a test module cannot import this conftest, so the helpers
# travel as fixtures.
@pytest.fixture
def chunk() -> object:
    return make_chunk


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
