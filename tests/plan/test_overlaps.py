"""The overlap sweep finds every colliding plan entry, checked against brute force."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from yaml.nodes import ScalarNode

from rerun_orchestrator.plan._overlaps import Rect, find_overlaps

_NODE = ScalarNode("tag:yaml.org,2002:str", "x")


@st.composite
def rects(draw: st.DrawFn) -> list[Rect]:
    out = []
    count = draw(st.integers(min_value=0, max_value=25))
    for index in range(count):
        first_job = draw(st.integers(1, 30))
        first_day = draw(st.integers(0, 60))
        out.append(
            Rect(
                location=(draw(st.sampled_from(["r1", "r2"])), "ns", "g"),
                first_job=first_job,
                last_job=first_job + draw(st.integers(0, 8)),
                first_day=first_day,
                last_day=first_day + draw(st.integers(0, 20)),
                order=(index // 5, index % 5, 0),
                job_node=_NODE,
                window_node=_NODE,
            )
        )
    return out


def _intersect(a: Rect, b: Rect) -> bool:
    return (
        a.location == b.location
        and a.first_job <= b.last_job
        and b.first_job <= a.last_job
        and a.first_day <= b.last_day
        and b.first_day <= a.last_day
    )


@settings(max_examples=400, deadline=None)
@given(rects())
def test_every_colliding_entry_is_in_a_reported_pair(entries: list[Rect]) -> None:
    pairs = list(find_overlaps(entries))
    for first, second in pairs:
        assert _intersect(first, second)
        assert first.order < second.order
    assert len({(id(a), id(b)) for a, b in pairs}) == len(pairs)  # each pair once
    colliding = {
        id(r) for a, b in itertools.combinations(entries, 2) if _intersect(a, b) for r in (a, b)
    }
    assert {id(r) for pair in pairs for r in pair} == colliding


def test_no_pairs_without_collisions() -> None:
    a = Rect(("r", "n", "g"), 1, 10, 0, 9, (0, 0, 0), _NODE, _NODE)
    b = Rect(("r", "n", "g"), 11, 20, 0, 9, (1, 0, 0), _NODE, _NODE)  # next jobs
    c = Rect(("r", "n", "g"), 1, 10, 10, 19, (2, 0, 0), _NODE, _NODE)  # next days
    d = Rect(("r", "n", "other"), 1, 10, 0, 9, (3, 0, 0), _NODE, _NODE)  # elsewhere
    assert list(find_overlaps([a, b, c, d])) == []
