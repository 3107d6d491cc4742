"""kill -9 at every crash point, resume, and prove from the simulator that every
(job, day) of the plan has exactly one rerun instance and none is missing.

Scenarios run side by side (each its own jobs, plan and journal, one shared simulator
process whose state outlives every killed run), so the reconciliation wait after each
crash is paid once, not once per scenario.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from subprocess import CompletedProcess

import pytest

pytestmark = pytest.mark.slow

POINTS = (
    "before_mark_in_flight",
    "after_mark_in_flight",
    "request_written",
    "after_response",
    "journal_write",
    "after_outcome",
)
START, DAYS = date(2024, 1, 1), 10  # chunks of 3 days: 4 per job
JOBS_PER_SCENARIO = 3  # 12 chunks: every point but one is passed at least 12 times
# Concurrent in-flight marks share one commit (group commit), so `journal_write` is passed
# fewer times, and how many depends on timing. At least 6: sync, then 12 marks in 3 job
# lanes take 4 commits or more, then the last outcomes are flushed.
NTH: dict[str, tuple[int, ...]] = {"journal_write": (1, 3, 6)}
# Each scenario is a chain of runs; every run in the chain is killed at its failpoint,
# then runs without failpoints resume it.
CHAINS: dict[str, tuple[str, ...]] = {
    f"{point}={nth}": (f"{point}={nth}",) for point in POINTS for nth in NTH.get(point, (1, 5, 11))
}
CHAINS |= {
    "killed twice": ("request_written=2", "after_response=3"),
    "killed three times": ("after_mark_in_flight=4", "journal_write=3", "request_written=1"),
}


@dataclass
class Scenario:
    chain: tuple[str, ...]
    jobs: list[int]
    plan: Path
    journal: Path
    results: list[CompletedProcess[str]] = field(default_factory=list)

    def args(self, e2e, url: str) -> list[str]:
        return e2e.run_args(self.plan, url, self.journal, "--log-format", "json")


@pytest.fixture(scope="module")
def crash_matrix(e2e_module):
    e2e = e2e_module
    sim = e2e.simulator()
    scenarios: dict[str, Scenario] = {}
    for index, (name, chain) in enumerate(CHAINS.items()):
        jobs = [index * 10 + 1 + j for j in range(JOBS_PER_SCENARIO)]
        plan = e2e.plan(f"crash-{index}", jobs, start=START, days=DAYS, chunk_days=3)
        scenarios[name] = Scenario(chain, jobs, plan, e2e.tmp / f"crash-{index}.sqlite")
    steps = max(len(chain) for chain in CHAINS.values())
    for step in range(steps):
        batch = [s for s in scenarios.values() if step < len(s.chain)]
        results = e2e.run_many([(s.args(e2e, sim.url), s.chain[step]) for s in batch])
        for scenario, result in zip(batch, results, strict=True):
            scenario.results.append(result)
    # Resume without failpoints. One resume should do; a second is allowed in case a
    # reconciliation query was unanswered (the chunk then stays unknown until the next).
    for _ in range(2):
        batch = [s for s in scenarios.values() if s.results[-1].returncode != 0]
        if not batch:
            break
        results = e2e.run_many([(s.args(e2e, sim.url), None) for s in batch])
        for scenario, result in zip(batch, results, strict=True):
            scenario.results.append(result)
    return e2e, sim, scenarios


# The first test of the module waits for the whole matrix (~40 runs) in its set-up.
@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", list(CHAINS))
def test_kill_9_then_resume_reruns_every_day_exactly_once(crash_matrix, name) -> None:
    e2e, sim, scenarios = crash_matrix
    scenario = scenarios[name]
    for result, failpoints in zip(scenario.results, scenario.chain, strict=False):
        assert result.returncode == -signal.SIGKILL, (
            f"{failpoints}: expected a SIGKILL, got exit {result.returncode}\n"
            f"{result.stdout[-1500:]}\n{result.stderr[-3000:]}"
        )
    final = scenario.results[-1]
    assert len(scenario.results) > len(scenario.chain)
    assert final.returncode == 0, final.stderr[-3000:]
    e2e.assert_exactly_once(sim, scenario.jobs, START, DAYS)
