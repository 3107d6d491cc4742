"""What the journal costs a send loop: calls per second with it / without it.

Goal (issue 6): >= 0.9x at full speed. Each call of the loop does what the executor does
per attempt: `await mark_in_flight` (durable when it returns; with FULL concurrent marks
share one commit made in a worker thread) -> send -> `record_outcome` (batched).
With only 4 workers little can be shared: a run's concurrency is a plan setting.

Scenarios:
  sim unpaced  RerunJob through the real client to `rerun-orchestrator simulate` (another
               process, no quota) on 127.0.0.1, as fast as 4 workers go: the worst case
  sim 50/s     the same, paced at 50 calls/s (30x SchedulerX's default quota of 100/min)
  fake 30 ms   a send that takes about an OpenAPI round trip, unpaced
  fake 0 ms    no send at all: the journal's raw cost per call (ratio meaningless, see us)

Run: .venv/bin/python bench/bench_journal.py [--quick]
Prints one line per scenario and journal; ratios are against the same loop with no journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

from rerun_orchestrator.journal import ChunkStatus, Journal, MemoryJournal, SqliteJournal
from rerun_orchestrator.plan._model import Chunk, chunk_key
from rerun_orchestrator.run._attempt import rerun_params

Send = Callable[[Chunk], Awaitable[str | None]]
CONCURRENCY = 4


def make_chunks(n: int, offset: int = 0) -> list[Chunk]:
    chunks = []
    for i in range(offset, offset + n):
        job, days = 1 + i % 100, i // 100
        day = date(2020, 1, 1) + timedelta(days=days)
        fields = {
            "region": "cn-hangzhou",
            "namespace": "ns-1",
            "namespace_source": None,
            "group_id": "g1",
            "job_id": job,
            "first_day": day,
            "last_day": day,
            "data_time": "10:00:00",
        }
        ms = int(time.mktime(day.timetuple()) * 1000)
        chunks.append(Chunk(chunk_key(**fields), start_date=ms, end_date=ms, days=1, **fields))  # type: ignore[arg-type]
    return chunks


async def send_loop(chunks: list[Chunk], send: Send, journal: Journal | None) -> float:
    """Calls per second of `CONCURRENCY` workers sending every chunk once."""
    queue = iter(chunks)

    async def worker() -> None:
        for chunk in queue:
            if journal is not None:
                await journal.mark_in_flight(chunk.key, time.time())
            request_id = await send(chunk)
            if journal is not None:
                journal.record_outcome(chunk.key, ChunkStatus.SUCCEEDED, request_id=request_id)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(CONCURRENCY):
            group.create_task(worker())
    if journal is not None:
        journal.flush()
    return len(chunks) / (time.perf_counter() - started)


def fake_send(latency: float) -> Send:
    async def send(chunk: Chunk) -> str | None:
        await asyncio.sleep(latency)
        return "REQ"

    return send


def open_journal(kind: str, directory: Path, chunks: list[Chunk]) -> Journal | None:
    if kind == "none":
        return None
    if kind == "memory":
        journal: Journal = MemoryJournal()
    else:
        path = directory / f"{kind}-{time.monotonic_ns()}.sqlite"
        journal = SqliteJournal.open(
            path,
            plan_name="bench",
            plan_digest="d",
            synchronous=kind.split("-")[1].upper(),  # type: ignore[arg-type]
        )
    journal.sync(chunks)
    return journal


async def scenario(name: str, send: Send, n: int, rounds: int, directory: Path) -> None:
    kinds = ["none", "sqlite-full", "sqlite-normal", "memory"]
    best = dict.fromkeys(kinds, 0.0)
    await send_loop(make_chunks(min(n, 50)), send, None)  # warm up: connections, caches
    for _ in range(rounds):
        for kind in kinds:  # interleaved, so drift hits every kind alike
            chunks = make_chunks(n)
            journal = open_journal(kind, directory, chunks)
            try:
                best[kind] = max(best[kind], await send_loop(chunks, send, journal))
            finally:
                if journal is not None:
                    journal.close()
    base = best["none"]
    for kind in kinds[1:]:
        # Per call, loop time and waiting for a commit alike (FULL commits off the loop).
        cost_us = (1 / best[kind] - 1 / base) * 1e6
        print(
            f"{name:<12} {kind:<14} {best[kind]:>9.0f} calls/s  vs {base:>9.0f} without  "
            f"ratio {best[kind] / base:5.2f}x  (~{cost_us:.0f} us more per call)"
        )


_SIM_CONFIG = """
server_timezone: Asia/Shanghai
credentials: [{access_key_id: testid, access_key_secret: testsecret}]
jobs:
  - {region: cn-hangzhou, namespace: ns-1, group: g1, job_ids: ["1-100"], max_concurrency: 9999}
quota: {RerunJob: null, GetJobInstanceList: null}
default_quota: null
"""


async def simulator_send(
    stack: contextlib.AsyncExitStack, directory: Path, pace: float | None
) -> Send:
    """RerunJob through the real client to `rerun-orchestrator simulate` in its own process
    (as the real service is: its CPU is not ours). `pace`: calls per second at most."""
    from rerun_orchestrator.schedulerx import (  # noqa: PLC0415
        Credentials,
        SchedulerXClient,
        StaticCredentialsProvider,
    )

    config = directory / "simulator.yaml"
    config.write_text(_SIM_CONFIG)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rerun_orchestrator", "simulate", "--port", "0",
        "--config", str(config), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip

    async def stop() -> None:
        proc.terminate()
        await proc.wait()

    stack.push_async_callback(stop)
    assert proc.stdout is not None
    url = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
    client = SchedulerXClient(
        StaticCredentialsProvider(Credentials("testid", "testsecret")), endpoint=url
    )
    stack.push_async_callback(client.aclose)
    next_slot = [time.monotonic()]

    async def send(chunk: Chunk) -> str | None:
        if pace:
            slot, next_slot[0] = next_slot[0], max(next_slot[0], time.monotonic()) + 1 / pace
            await asyncio.sleep(max(0.0, slot - time.monotonic()))
        result = await client.rerun_job(rerun_params(chunk))
        assert result.request_id, result.reason
        return result.request_id

    return send


def bench_sync(n: int, directory: Path) -> None:
    """`sync` of a plan of `n` chunks, streamed from a generator: time and memory."""
    import resource  # noqa: PLC0415 POSIX only, like the journal's lock

    def plan() -> Iterator[Chunk]:
        for start in range(0, n, 10_000):
            yield from make_chunks(min(10_000, n - start), offset=start)

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with SqliteJournal.open(directory / "sync.sqlite", plan_name="b", plan_digest="d") as journal:
        started = time.perf_counter()
        first = journal.sync(plan())
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        again = journal.sync(plan())
        again_s = time.perf_counter() - started
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(
        f"sync {n:,} chunks: first {first_s:.1f} s ({first.added:,} added), "
        f"again {again_s:.1f} s ({again.known:,} known); peak memory grew {grown:.0f} MB"
    )


async def main(quick: bool) -> None:
    rounds = 2 if quick else 4
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        print(f"concurrency {CONCURRENCY}; best of {rounds} rounds; goal: ratio >= 0.90x")
        async with contextlib.AsyncExitStack() as stack:
            send = await simulator_send(stack, directory, pace=None)
            await scenario("sim unpaced", send, 300 if quick else 1000, rounds, directory)
        async with contextlib.AsyncExitStack() as stack:
            send = await simulator_send(stack, directory, pace=50)
            await scenario("sim 50/s", send, 100 if quick else 250, rounds, directory)
        await scenario("fake 30 ms", fake_send(0.030), 200 if quick else 400, rounds, directory)
        await scenario("fake 0 ms", fake_send(0.0), 2000 if quick else 10000, rounds, directory)
        bench_sync(100_000 if quick else 1_000_000, directory)


if __name__ == "__main__":
    asyncio.run(main("--quick" in sys.argv))
