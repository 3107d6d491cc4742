"""A `run` session on a PostgreSQL journal, in process: what it leaves behind and where its
database calls run.

The shared pacer writes throttles from a worker thread, the group gate gives slots back
from one, the journal has its pool, heartbeat and outcome writer: once `run` returns none
of them may still be alive (a service that runs plans one after another would gather
them). The session's own set-up (the pacers' rows, the job facts, the rerun generation)
makes no database call on the event loop's thread.
"""

from __future__ import annotations

import threading
import traceback
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from rerun_orchestrator.cli import main
from rerun_orchestrator.run import _shared_groups, _shared_pacer


def _plan(tmp: Path) -> Path:
    plan = {
        "version": 1,
        "name": "threads",
        "timezone": "Asia/Shanghai",
        "region": "cn-hangzhou",
        "namespace": "ns-1",
        "group": "g1",
        "data_time": "10:00:00",
        "chunk_days": 1,
        "targets": [{"jobs": [1, 2], "windows": [{"start": "2024-01-01", "end": "2024-01-03"}]}],
        "execution": {"rate": "40/s", "concurrency": 3, "max_active_per_group": 20},
    }
    path = tmp / "threads.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def test_no_thread_outlives_a_run_and_no_setup_call_is_on_the_loop(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []
    for module, cls in ((_shared_pacer, "SharedPacer"), (_shared_groups, "SharedGroupGate")):
        real = getattr(module, cls).close

        def close(self: Any, real: Any = real, name: str = cls) -> None:
            started.append(name if self._worker is not None else f"{name} (idle)")
            real(self)

        monkeypatch.setattr(getattr(module, cls), "close", close)
    loop_calls: list[str] = []
    real_execute = psycopg.Cursor.execute

    def execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is threading.main_thread() and _on_loop():
            loop_calls.append("".join(traceback.format_stack(limit=10)))
        return real_execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", execute)
    before = set(threading.enumerate())
    argv = [
        *("run", str(_plan(tmp_path)), "--simulate", "--simulate-quota", "3/s"),
        *("--journal", postgres_url, "--no-progress", "--settle-seconds", "0.3"),
        *("--watch-poll", "0.1", "--no-preflight", "--rerun-succeeded"),
    ]
    assert main(argv) == 0
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert left == [], f"threads alive after the run: {[t.name for t in left]}"
    # the pacer was throttled (its worker ran) and the group gate gave slots back
    assert "SharedPacer" in started, started
    assert "SharedGroupGate" in started, started
    assert loop_calls == [], f"{len(loop_calls)} database calls on the loop; the first:\n" + (
        loop_calls[0] if loop_calls else ""
    )


def _on_loop() -> bool:
    import asyncio  # noqa: PLC0415

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
