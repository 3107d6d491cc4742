"""Calls per second of SchedulerXClient against a bare aiohttp loop, in one run.

Both send the same signed RerunJob requests (same builder, fresh nonce and date per call)
at the same concurrency to the same loopback server, which runs in a separate process so
the client's own cost is what is measured. Rounds alternate between the two to cancel
drift, and medians are reported. Two ratios are printed: by calls per wall-clock second
(the goal) and by calls per CPU second of the client process, which stays steady when
other work shares the machine. The official SDK is measured too, for scale: it opens a
session per call (over HTTPS it would also build a TLS context per call).

    .venv/bin/python bench/bench_client.py [--calls 4000] [--concurrency 16] [--rounds 5]

Goal: ratio ours / bare >= 0.9.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
from _common import send_bare
from aiohttp import web

from rerun_orchestrator.schedulerx import (
    AiohttpTransport,
    Credentials,
    Endpoint,
    RerunJobParams,
    SchedulerXClient,
    StaticCredentialsProvider,
    Verdict,
)

SUCCESS = (
    b'{"RequestId":"5A1B2C3D-0000-4000-8000-000000000000","Code":200,"Success":true,"Message":""}'
)
PARAMS = RerunJobParams(
    region="cn-hangzhou",
    namespace="adcfc35d-e2fe-4fe9-bbaa-20e90ffc1234",
    group_id="testSchedulerx.defaultGroup",
    job_id=123,
    start_date=1645459200000,
    end_date=1645718400000,
    data_time="10:00:00",
)
CREDENTIALS = Credentials("benchid", "benchsecret")

Call = Callable[[], Awaitable[None]]
Close = Callable[[], Awaitable[None]]


def serve() -> None:
    """The loopback server (child process): answers every POST / with a RerunJob success."""

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=SUCCESS, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


async def drive(call: Call, calls: int, concurrency: int) -> tuple[float, float]:
    """Run `calls` calls with `concurrency` workers.

    Returns calls per wall-clock second and calls per CPU second of this process.
    """
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return calls / (time.perf_counter() - wall), calls / (time.process_time() - cpu)


def ours(url: str, concurrency: int) -> tuple[Call, Close]:
    transport = AiohttpTransport(limit=concurrency)
    client = SchedulerXClient(
        StaticCredentialsProvider(CREDENTIALS), endpoint=url, transport=transport
    )

    async def call() -> None:
        result = await client.rerun_job(PARAMS)
        if result.verdict is not Verdict.SUCCEEDED:
            raise RuntimeError(result.reason)

    return call, transport.aclose


def bare(url: str, concurrency: int) -> tuple[Call, Close]:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))
    endpoint = Endpoint.from_url(url)

    async def call() -> None:
        await send_bare(session, endpoint, CREDENTIALS, PARAMS)

    return call, session.close


def official_sdk(url: str) -> Call:
    # Imported here: the SDK is a test-only dependency, needed only for this line.
    from alibabacloud_schedulerx220190430 import models  # noqa: PLC0415
    from alibabacloud_schedulerx220190430.client import Client  # noqa: PLC0415
    from alibabacloud_tea_openapi.models import Config  # noqa: PLC0415

    client = Client(
        Config(
            access_key_id=CREDENTIALS.access_key_id,
            access_key_secret=CREDENTIALS.access_key_secret,
            endpoint=url.removeprefix("http://"),
            protocol="HTTP",
            region_id=PARAMS.region,
        )
    )
    request = models.RerunJobRequest(
        region_id=PARAMS.region,
        namespace=PARAMS.namespace,
        group_id=PARAMS.group_id,
        job_id=PARAMS.job_id,
        start_date=PARAMS.start_date,
        end_date=PARAMS.end_date,
        data_time=PARAMS.data_time,
    )

    async def call() -> None:
        response = await client.rerun_job_async(request)
        if not response.body.success:
            raise RuntimeError(response.body)

    return call


async def bench(url: str, calls: int, concurrency: int, rounds: int, sdk_calls: int) -> None:
    contestants = {"ours": ours(url, concurrency), "bare": bare(url, concurrency)}
    wall: dict[str, list[float]] = {name: [] for name in contestants}
    cpu: dict[str, list[float]] = {name: [] for name in contestants}
    for call, _ in contestants.values():  # warm up: connections, caches
        await drive(call, min(200, calls), concurrency)
    for _ in range(rounds):
        for name, (call, _) in contestants.items():
            by_wall, by_cpu = await drive(call, calls, concurrency)
            wall[name].append(by_wall)
            cpu[name].append(by_cpu)
    sdk_rate = None
    if sdk_calls:
        sdk_rate, _ = await drive(official_sdk(url), sdk_calls, concurrency)
    for _, close in contestants.values():
        await close()
    await asyncio.sleep(0.1)  # let closed connections settle before the loop ends

    def line(label: str, name: str) -> str:
        return (
            f"  {label:<18} {statistics.median(wall[name]):8.0f} calls/s "
            f"{statistics.median(cpu[name]):8.0f} calls/CPU-s   "
            f"rounds: {[round(r) for r in wall[name]]}"
        )

    print(
        f"calls={calls} concurrency={concurrency} rounds={rounds} "
        "(loopback HTTP, server in a child process, medians)"
    )
    print(line("SchedulerXClient", "ours"))
    print(line("bare aiohttp loop", "bare"))
    if sdk_rate is not None:
        print(
            f"  {'official SDK':<18} {sdk_rate:8.0f} calls/s "
            f"({sdk_calls} calls, a session per call)"
        )
    ratio_wall = statistics.median(wall["ours"]) / statistics.median(wall["bare"])
    ratio_cpu = statistics.median(cpu["ours"]) / statistics.median(cpu["bare"])
    print(
        f"ratio ours/bare = {ratio_wall:.3f} by calls/s, "
        f"{ratio_cpu:.3f} by calls per CPU-s (goal >= 0.9)"
    )
    if sdk_rate is not None:
        print(f"ratio ours/official SDK = {statistics.median(wall['ours']) / sdk_rate:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sdk-calls", type=int, default=300, help="0 skips the official SDK")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        url = f"http://127.0.0.1:{port}"
        asyncio.run(bench(url, args.calls, args.concurrency, args.rounds, args.sdk_calls))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
