"""Expansion speed and memory: chunks per second, and peak RSS for 1k versus 1M chunks.

Run: ``.venv/bin/python bench/bench_expand.py``. Prints figures and ratios; asserts nothing
(speed depends on the machine; the ratio is the claim: memory stays flat with plan size
because `Plan.chunks()` is a generator and `count_chunks()` is arithmetic).
"""

from __future__ import annotations

import argparse
import collections
import io
import resource
import subprocess
import sys
import time

from rerun_orchestrator.plan import Plan, check_plan_text, render_jsonl

TEMPLATE = """\
version: 1
name: bench
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: adcfc35d-e2fe-4fe9-bbaa-20e90ffc1234
group: bench.defaultGroup
data_time: "10:00:00"
chunk_days: 1
targets:
  - jobs: ["100001-{last_job}"]
    windows:
      - {{start: 2021-01-01, end: {end}}}
execution: {{max_chunks: 10000000}}
"""


def make_plan(jobs: int, days: int) -> Plan:
    from datetime import date, timedelta  # noqa: PLC0415

    end = date(2021, 1, 1) + timedelta(days=days - 1)
    text = TEMPLATE.format(last_job=100_000 + jobs, end=end.isoformat())
    plan, diagnostics = check_plan_text(text, "bench.yaml")
    assert plan is not None, diagnostics
    return plan


def sizes(chunks: int) -> tuple[int, int]:
    """(jobs, days) giving `chunks` single-day chunks."""
    return (1000, chunks // 1000) if chunks >= 1000 else (1, chunks)


def expand_only(chunks: int) -> None:
    """Child process: expand, then print the peak RSS in KiB (Linux ru_maxrss unit)."""
    plan = make_plan(*sizes(chunks))
    assert plan.count_chunks() == chunks
    collections.deque(plan.chunks(), maxlen=0)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def peak_rss(chunks: int) -> int:
    out = subprocess.run(
        [sys.executable, __file__, "--rss", str(chunks)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.strip())


class _Null(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rss", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss:
        expand_only(args.rss)
        return

    plan = make_plan(*sizes(1_000_000))
    started = time.perf_counter()
    count = plan.count_chunks()
    counted = time.perf_counter() - started
    started = time.perf_counter()
    expanded = sum(1 for _ in plan.chunks())
    elapsed = time.perf_counter() - started
    assert expanded == count == 1_000_000
    print(f"expand 1,000,000 chunks: {elapsed:.2f} s, {expanded / elapsed:,.0f} chunks/s")
    print(f"count_chunks (arithmetic): {counted * 1e6:.1f} us, {elapsed / counted:,.0f}x faster")

    started = time.perf_counter()
    render_jsonl(plan, _Null())
    rendered = time.perf_counter() - started
    print(f"plan --format jsonl (to a null stream): {expanded / rendered:,.0f} chunks/s")

    # Overlap detection scales with plan entries, not days: 2,000 job entries x 10 windows.
    jobs = ", ".join(str(100_000 + 2 * i) for i in range(2000))
    windows = "\n".join(
        f"      - {{start: 2020-{m:02d}-01, end: 2020-{m:02d}-20}}" for m in range(1, 11)
    )
    text = TEMPLATE.replace('["100001-{last_job}"]', f"[{jobs}]").replace(
        "      - {{start: 2021-01-01, end: {end}}}", windows
    )
    text = text.replace("{{", "{").replace("}}", "}")
    started = time.perf_counter()
    checked, diagnostics = check_plan_text(text, "entries.yaml")
    validated = time.perf_counter() - started
    assert checked is not None, diagnostics[:3]
    print(f"validate 20,000 (job entry x window) entries: {validated:.2f} s")

    small, large = peak_rss(1_000), peak_rss(1_000_000)
    print(f"peak RSS: 1k chunks {small / 1024:.1f} MiB, 1M chunks {large / 1024:.1f} MiB")
    print(f"peak RSS ratio 1M/1k: {large / small:.2f}x (goal: <= 1.20x)")


if __name__ == "__main__":
    main()
