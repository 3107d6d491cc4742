"""A backfill service: plans come in over HTTP, run in the background, progress goes out.

    POST /backfills               a plan (YAML body)   -> 201 {"run_id": ...} | 400 diagnostics
    GET  /backfills/{run_id}      live counts, the permitted rate, the result once done
    GET  /backfills/{run_id}/events   every event from now on, one JSON object per line
    POST /backfills/{run_id}/stop     graceful stop: calls in flight finish

Every run of the service draws on one account's quota (`ro.default_accounts`); each plan
has a journal of its own under `journals`. Uses only public names of rerun_orchestrator.
Run it with ``python backfill_service.py`` (SCHEDULERX_ENDPOINT points it at a simulator).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import anyio
from aiohttp import web
from anyio.abc import TaskGroup

import rerun_orchestrator as ro

RUNS = web.AppKey("runs", dict[str, ro.RunHandle])


def make_app(
    tg: TaskGroup,
    client: ro.SchedulerXClient,
    *,
    account: str,
    journals: Path,
    settle_seconds: float = 10.0,
) -> web.Application:
    """The service's routes; runs start in `tg`, which outlives every request."""
    app = web.Application()
    app[RUNS] = {}
    runs = app[RUNS]

    async def create(request: web.Request) -> web.Response:
        try:
            plan = ro.load_plan_text(await request.text(), source="request body")
        except ro.PlanError as exc:
            problems = [str(d) for d in exc.diagnostics]
            return web.json_response({"errors": problems}, status=400)
        try:
            journal = await ro.open_plan_journal(journals / f"{plan.name}.sqlite", plan)
        except ro.JournalError as exc:  # e.g. that plan is running already
            return web.json_response({"errors": [str(exc)]}, status=409)
        reconciler = ro.default_accounts.get(account).reconciler(
            client, timezone=plan.timezone, settle_seconds=settle_seconds
        )
        wiring = ro.RunWiring(
            client=client, journal=journal, reconciler=reconciler, account=account
        )
        run = ro.start_run(plan, wiring, task_group=tg)
        runs[run.run_id] = run
        tg.start_soon(close_when_done, run, journal)
        return web.json_response({"run_id": run.run_id}, status=201)

    async def show(request: web.Request) -> web.Response:
        run = runs.get(request.match_info["run_id"])
        if run is None:
            raise web.HTTPNotFound()
        body: dict[str, object] = {
            "plan": run.plan.name,
            "done": run.done,
            "counts": _counts(run),
            "rate": run.rate,
        }
        if run.done:
            try:
                body["result"] = (await run.result()).to_json()
            except Exception as exc:  # the run failed: say how
                body["error"] = str(exc)
        return web.json_response(body)

    async def events(request: web.Request) -> web.StreamResponse:
        run = runs.get(request.match_info["run_id"])
        if run is None:
            raise web.HTTPNotFound()
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        async with run.events() as stream:
            async for event in stream:
                await response.write(json.dumps(event.to_dict()).encode() + b"\n")
        await response.write_eof()
        return response

    async def stop(request: web.Request) -> web.Response:
        run = runs.get(request.match_info["run_id"])
        if run is None:
            raise web.HTTPNotFound()
        run.stop()
        return web.json_response({"stopping": run.run_id}, status=202)

    app.add_routes(
        [
            web.post("/backfills", create),
            web.get("/backfills/{run_id}", show),
            web.get("/backfills/{run_id}/events", events),
            web.post("/backfills/{run_id}/stop", stop),
        ]
    )
    return app


def _counts(run: ro.RunHandle) -> dict[str, int]:
    counts = run.stats.counts()
    return {
        "total": counts.total,
        "succeeded": counts.succeeded,
        "failed": counts.failed,
        "unknown": counts.unknown,
        "pending": counts.pending,
    }


async def close_when_done(run: ro.RunHandle, journal: ro.Journal) -> None:
    """Close the run's journal (off the loop) once it has finished, however it ended."""
    try:
        await run.result()
    except Exception:  # noqa: S110 - the failure is shown by GET /backfills/{id}
        pass
    finally:
        await ro.close_journal(journal)


async def main() -> None:
    endpoint = os.environ.get("SCHEDULERX_ENDPOINT")  # None: each region's public endpoint
    provider = ro.default_credentials_provider()
    account = (await provider.get_credentials()).access_key_id
    async with (
        ro.SchedulerXClient(provider, endpoint=endpoint) as client,
        anyio.create_task_group() as tg,
    ):
        app = make_app(tg, client, account=account, journals=Path("journals"))
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 8080).start()
        try:
            await anyio.sleep_forever()
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    anyio.run(main)
