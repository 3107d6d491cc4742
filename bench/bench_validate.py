"""Validation cost: hostile plans against an ordinary one of the same size, in one run.

Run: ``.venv/bin/python bench/bench_validate.py``. Prints CPU milliseconds and ratios;
asserts nothing. The claims: a merge-key fan-out or a billion-laughs plan (a few hundred
bytes) costs about what an ordinary plan of that size costs, because it is refused while
it is composed; and reading each mapping's entries once makes a fan-out that stays under
the bounds linear instead of exponential (the first release re-merged shared mappings at
every use: 12 levels took 25 ms, 20 levels 6.5 s, 25 levels minutes).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rerun_orchestrator.plan import _loader, _yaml, check_plan_text

HEAD = """\
version: 1
name: bench
timezone: Asia/Shanghai
region: cn-hangzhou
namespace: ns
group: g
data_time: "10:00:00"
"""
TARGET = """\
targets:
  - jobs: [1]
    windows: [{start: 2024-01-01, end: 2024-01-02}]
"""


def fan_out(levels: int) -> str:
    lines = [HEAD, "x-l0: &l0 {chunk_days: 1}\n"]
    lines += [f"x-l{i}: &l{i} {{<<: [*l{i - 1}, *l{i - 1}]}}\n" for i in range(1, levels + 1)]
    return "".join(lines) + TARGET.replace("  - jobs", f"  - <<: *l{levels}\n    jobs")


def laughs() -> str:
    lines = [HEAD, "x-a0: &a0 [" + ",".join(['"lol"'] * 10) + "]\n"]
    lines += [f"x-a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 9)]
    return "".join(lines) + TARGET


def ordinary(size: int) -> str:
    text = HEAD + "targets:\n"
    job = 1
    while len(text) < size:
        text += f"  - jobs: [{job}]\n    windows: [{{start: 2024-01-01, end: 2024-01-02}}]\n"
        job += 1
    return text


def cpu_ms(check: Callable[[], object], rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        check()
        best = min(best, time.process_time() - started)
    return best * 1000


class _Forgetful(dict[int, list[tuple[str, _yaml.Node, _yaml.Node]]]):
    """A cache that keeps nothing: mapping entries recomputed at every use, as before."""

    def __setitem__(self, key: int, value: list[tuple[str, _yaml.Node, _yaml.Node]]) -> None:
        pass


class _ForgetfulReporter(_yaml.Reporter):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.entries = _Forgetful()


def main() -> None:
    baseline = ordinary(1000)
    base = cpu_ms(lambda: check_plan_text(baseline))
    print(f"ordinary plan, {len(baseline)} bytes: {base:.1f} ms")
    for name, text in (("merge fan-out, 25 levels", fan_out(25)), ("billion laughs", laughs())):

        def check(text: str = text) -> object:
            return check_plan_text(text)

        spent = cpu_ms(check)
        _, diagnostics = check_plan_text(text)
        print(f"{name}, {len(text)} bytes: {spent:.1f} ms ({spent / base:.2f}x the ordinary)")
        print(f"  -> {diagnostics[0]}")
    under = fan_out(12)  # under the bounds: walked for real
    kept = cpu_ms(lambda: check_plan_text(under))
    vars(_loader)["Reporter"] = _ForgetfulReporter  # the loader's walk builds one per plan
    try:
        forgot = cpu_ms(lambda: check_plan_text(under), rounds=1)
    finally:
        vars(_loader)["Reporter"] = _yaml.Reporter
    print(
        f"merge fan-out, 12 levels (valid): {kept:.1f} ms with entries read once, "
        f"{forgot:.1f} ms re-merged at every use ({forgot / kept:.0f}x)"
    )


if __name__ == "__main__":
    main()
