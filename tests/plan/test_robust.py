"""`check_plan_text` never raises, whatever it is given; a plan comes back iff no error."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rerun_orchestrator.plan import check_plan_text

BASE = """\
version: 1
name: t
timezone: America/Sao_Paulo
region: cn-hangzhou
namespace: ns
namespace_source: null
group: g
data_time: 10:00:00
chunk_days: 3
x-d: &d {group: h, chunk_days: 2}
targets:
  - jobs: [1, "3-5"]
    windows:
      - {start: 2018-11-01, end: 2018-11-10}
  - <<: *d
    jobs: ["3-5"]
    windows: [{start: "2018-11-01", end: 2018-11-02}]
execution: {rate: 1.5/s, concurrency: 2, order: newest_first, max_chunks: 100}
"""

_TOKENS = [
    "\n",
    " ",
    ":",
    "-",
    "[",
    "]",
    "{",
    "}",
    '"',
    "'",
    "*d",
    "&e",
    "<<",
    "0",
    "9",
    "yes",
    "null",
    "2024-02-30",
    "25:00:00",
    "\t",
    "#",
    "!!int",
    "access_key_id",
    "?",
]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, len(BASE)), st.integers(0, 8), st.sampled_from(_TOKENS)),
        max_size=4,
    )
)
def test_mutated_plans_never_raise(edits: list[tuple[int, int, str]]) -> None:
    text = BASE
    for at, cut, token in edits:
        text = text[:at] + token + text[at + cut :]
    plan, diagnostics = check_plan_text(text, "m.yaml")
    has_error = any(d.is_error for d in diagnostics)
    assert (plan is None) == has_error
    for d in diagnostics:
        assert d.line >= 1
        assert d.col >= 1
        assert str(d).startswith(f"m.yaml:{d.line}:{d.col}: ")
    if plan is not None:
        assert plan.count_chunks() == sum(1 for _ in plan.chunks())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(text: str) -> None:
    plan, diagnostics = check_plan_text(text, "t.yaml")
    assert plan is None
    assert diagnostics


def test_the_base_of_the_mutations_is_valid() -> None:
    plan, diagnostics = check_plan_text(BASE, "m.yaml")
    assert [d for d in diagnostics if d.is_error] == []
    assert plan is not None
    assert plan.count_chunks() == 4 * 4 + 3 * 1


def test_deep_nesting_is_a_positioned_diagnostic_not_a_crash() -> None:
    deep = "version: 1\nname: " + "[" * 2000 + "]" * 2000 + "\n"
    plan, diagnostics = check_plan_text(deep, "deep.yaml")
    assert plan is None
    assert [str(d) for d in diagnostics] == [
        "deep.yaml:2:38: YAML error: the document is nested more than 32 levels deep;"
        " a plan needs 5"
    ]


def _merge_chain(levels: int) -> str:
    lines = ["x-0: &a0 {group: h, chunk_days: 2}"]
    lines += [f"x-{i}: &a{i} {{<<: *a{i - 1}}}" for i in range(1, levels)]
    chain = BASE.replace("targets:\n", "\n".join(lines) + "\ntargets:\n")
    return chain.replace("  - <<: *d\n", f"  - <<: *a{levels - 1}\n")


def test_a_chain_of_merge_keys_deeper_than_the_limit_is_refused_where_it_is_cut() -> None:
    plan, diagnostics = check_plan_text(_merge_chain(31), "chain.yaml")
    assert plan is not None, diagnostics  # the target and 31 merges: at the limit, fine
    plan, diagnostics = check_plan_text(_merge_chain(33), "chain.yaml")
    assert plan is None
    assert "chain.yaml:12:6: '<<' merges are chained more than 32 deep here" in [
        str(d) for d in diagnostics
    ]


def test_a_long_chain_of_merge_keys_is_a_diagnostic_not_a_crash() -> None:
    plan, diagnostics = check_plan_text(_merge_chain(2000), "chain.yaml")
    assert plan is None
    assert [str(d) for d in diagnostics] == [
        "chain.yaml:2015:9: YAML error: with its aliases expanded, the mapping at line 1 holds"
        " more than 200,000 values, the limit for a plan; this alias alone stands for 4,003"
        " (a YAML bomb?)"
    ]
