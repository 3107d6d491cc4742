"""What the benches share: the plan they run and the bare aiohttp baseline they beat.

The baseline is the fairest rival we can write: one pooled session, the same signing as
our client (fresh nonce and date per call), and nothing else: no journal, no logs, no
pacing, no classification beyond "did it succeed".
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import date, timedelta
from pathlib import Path

import aiohttp
import yaml

from rerun_orchestrator.schedulerx import (
    Credentials,
    Endpoint,
    RerunJobParams,
    build_request,
    format_timestamp,
)


def write_plan(
    directory: Path,
    name: str,
    *,
    jobs: int,
    days: int,
    rate: str,
    concurrency: int,
    max_attempts: int,
    first_day: date = date(2023, 1, 1),
) -> Path:
    """A one-day-per-chunk plan of jobs 1..`jobs` over `days` days: jobs x days calls."""
    last_day = first_day + timedelta(days=days - 1)
    plan = {
        "version": 1,
        "name": name,
        "timezone": "Asia/Shanghai",
        "region": "cn-hangzhou",
        "namespace": "ns-1",
        "group": "g1",
        "data_time": "10:00:00",
        "chunk_days": 1,
        "targets": [
            {
                "jobs": [f"1-{jobs}"],
                "windows": [{"start": first_day.isoformat(), "end": last_day.isoformat()}],
            }
        ],
        "execution": {"rate": rate, "concurrency": concurrency, "max_attempts": max_attempts},
    }
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


async def send_bare(
    session: aiohttp.ClientSession,
    endpoint: Endpoint,
    credentials: Credentials,
    params: RerunJobParams,
) -> None:
    """One signed RerunJob the way a bare aiohttp loop sends it; raises unless accepted."""
    request = build_request(
        action="RerunJob",
        method="POST",
        params=params.form(),
        in_body=True,
        endpoint=endpoint,
        credentials=credentials,
        timestamp=format_timestamp(time.time()),
        nonce=secrets.token_hex(16),
        user_agent="bare-aiohttp",
    )
    async with session.post(request.url, data=request.body, headers=request.headers) as response:
        body = json.loads(await response.read())
    if not body.get("Success"):
        raise RuntimeError(body)
