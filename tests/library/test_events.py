"""Events a UI can use: run id and plan on every event, location and days on chunk events,
`to_dict()` that `json.dumps` takes as it is."""

from __future__ import annotations

import json
from typing import Any

import pytest

import rerun_orchestrator as ro
from rerun_orchestrator.testing import RerunHarness


@pytest.mark.asyncio
async def test_every_event_names_its_run_and_chunk_events_their_place_and_days(
    make_plan: Any, rerun_harness: RerunHarness
) -> None:
    plan = make_plan("ui", "1-2", "10/s", days=10)
    seen: list[ro.RunEvent] = []
    wiring = rerun_harness.wiring(plan, ro.MemoryJournal(clock=rerun_harness.clock))
    policy = ro.RunPolicy(run_id="run-42")
    async with ro.open_run(plan, wiring, policy) as events:
        async for event in events:
            seen.append(event)
    assert {type(e) for e in seen} >= {ro.RunStarted, ro.AttemptFinished, ro.ChunkFinished}
    assert all(e.run_id == "run-42" and e.plan == "ui" for e in seen)
    chunk_events = [e for e in seen if isinstance(e, ro.ChunkEvent)]
    assert chunk_events
    for event in chunk_events:
        assert (event.region, event.namespace, event.group_id) == ("cn-hangzhou", "ns-1", "g1")
        assert event.days is not None
        assert event.first_day is not None
        assert event.last_day is not None
    finished = [e for e in seen if isinstance(e, ro.ChunkFinished)]
    assert sorted((e.job_id, e.first_day, e.last_day, e.days) for e in finished) == [
        (1, "2024-01-01", "2024-01-07", 7),
        (1, "2024-01-08", "2024-01-10", 3),
        (2, "2024-01-01", "2024-01-07", 7),
        (2, "2024-01-08", "2024-01-10", 3),
    ]
    for event in seen:
        data = event.to_dict()
        assert json.loads(json.dumps(data)) == data  # JSON-ready as it is
        assert data["run_id"] == "run-42"
    last = seen[-1].to_dict()
    assert last["event"] == "rerun.run.finished"
    assert last["succeeded"] == 4
    first_chunk = finished[0].to_dict()
    assert first_chunk["event"] == "rerun.chunk.succeeded"
    assert first_chunk["region"] == "cn-hangzhou"
    assert isinstance(first_chunk["instance_ids"], list)
