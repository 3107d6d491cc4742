"""Fault injection: seeded, budgeted rules that make the simulator misbehave on purpose.

The after-commit kinds are the point of the simulator: RerunJob is not idempotent, so a
500, a reset or a timeout *after* the server committed the rerun is exactly the case in
which a blind retry reruns days twice. Those kinds really commit before they misbehave.

Kinds, and whether the rerun is committed first:

=============================  =========  ==================================================
kind                           commits    what the client sees
=============================  =========  ==================================================
throttle                       no         HTTP 400 ``Throttling.User`` (or ``code``)
unavailable                    no         HTTP 503 ``ServiceUnavailable``
reset                          no         the TCP connection reset, no response
non_json                       no         HTTP 502 with an HTML page (a failing proxy)
internal_error_after_commit    yes        HTTP 500 ``InternalError``
reset_after_commit             yes        the TCP connection reset, no response
slow_after_commit              yes        the normal answer, ``delay_seconds`` late
non_json_after_commit          yes        HTTP 200 with a truncated, unparsable body
=============================  =========  ==================================================
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

FAULT_KINDS: tuple[str, ...] = (
    "throttle",
    "unavailable",
    "reset",
    "non_json",
    "internal_error_after_commit",
    "reset_after_commit",
    "slow_after_commit",
    "non_json_after_commit",
)
AFTER_COMMIT_KINDS = frozenset(kind for kind in FAULT_KINDS if kind.endswith("_after_commit"))


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One kind of misbehaviour and when it fires.

    Args:
        kind: one of `FAULT_KINDS`.
        probability: chance that an eligible request triggers it (drawn from the
            simulator's seeded RNG); ignored when `every_nth` is set.
        budget: fire at most this many times (None: no limit).
        every_nth: fire deterministically on the n-th, 2n-th... eligible request.
        actions: API actions it applies to (None: every action).
        delay_seconds: how late `slow_after_commit` answers.
        retry_after_ms: for `throttle`, the ``x-acs-retry-after`` header to send.
        code: for `throttle`, the error code (default ``Throttling.User``).
    """

    kind: str
    probability: float = 1.0
    budget: int | None = None
    every_nth: int | None = None
    actions: tuple[str, ...] | None = None
    delay_seconds: float = 30.0
    retry_after_ms: int | None = None
    code: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(FAULT_KINDS)}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability must be within [0, 1], got {self.probability}")
        if self.budget is not None and self.budget < 0:
            raise ValueError(f"budget must be >= 0, got {self.budget}")
        if self.every_nth is not None and self.every_nth < 1:
            raise ValueError(f"every_nth must be >= 1, got {self.every_nth}")
        if self.delay_seconds < 0:
            raise ValueError(f"delay_seconds must be >= 0, got {self.delay_seconds}")
        if self.retry_after_ms is not None and self.retry_after_ms < 0:
            raise ValueError(f"retry_after_ms must be >= 0, got {self.retry_after_ms}")

    @property
    def after_commit(self) -> bool:
        return self.kind in AFTER_COMMIT_KINDS

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> FaultRule:
        """Build a rule from config or JSON; raises ValueError naming the bad key."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a fault rule must be a mapping, got {type(data).__name__}")  # noqa: TRY004 a bad config value
        unknown = sorted(set(data) - _RULE_KEYS)
        if unknown:
            raise ValueError(f"unknown fault key(s) {unknown}; allowed: {sorted(_RULE_KEYS)}")
        if "kind" not in data:
            raise ValueError("a fault rule needs a 'kind'")
        actions = data.get("actions")
        if isinstance(actions, str):
            actions = (actions,)
        return cls(
            kind=str(data["kind"]),
            probability=_number(data, "probability", 1.0),
            budget=_optional_int(data, "budget"),
            every_nth=_optional_int(data, "every_nth"),
            actions=None if actions is None else tuple(str(a) for a in actions),
            delay_seconds=_number(data, "delay_seconds", 30.0),
            retry_after_ms=_optional_int(data, "retry_after_ms"),
            code=None if data.get("code") is None else str(data["code"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "probability": self.probability,
            "budget": self.budget,
            "every_nth": self.every_nth,
            "actions": None if self.actions is None else list(self.actions),
            "delay_seconds": self.delay_seconds,
            "retry_after_ms": self.retry_after_ms,
            "code": self.code,
        }


_RULE_KEYS = frozenset(FaultRule.__dataclass_fields__)


def _number(data: Mapping[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number, got {value!r}")  # noqa: TRY004 a bad config value
    return float(value)


def _optional_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be an integer, got {value!r}")  # noqa: TRY004 a bad config value
    return value


class FaultInjector:
    """Decides, request by request, which rule (if any) fires.

    Rules are tried in order and the first that fires wins. Each rule counts the
    eligible requests it has seen (for `every_nth`) and how often it fired (for
    `budget`). Given the same seed and the same sequence of requests, the same
    requests fail.
    """

    def __init__(self, rules: Iterable[FaultRule], rng: random.Random) -> None:
        self._rng = rng
        self._rules: list[FaultRule] = []
        self._seen: list[int] = []
        self._fired: list[int] = []
        self.replace(rules)

    def replace(self, rules: Iterable[FaultRule]) -> None:
        """Swap in new rules, with fresh counters and budgets."""
        self._rules = list(rules)
        self._seen = [0] * len(self._rules)
        self._fired = [0] * len(self._rules)

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        return tuple(self._rules)

    def draw(self, action: str) -> FaultRule | None:
        """The rule that fires for this request of `action`, consuming its budget."""
        for index, rule in enumerate(self._rules):
            if rule.actions is not None and action not in rule.actions:
                continue
            if rule.budget is not None and self._fired[index] >= rule.budget:
                continue
            self._seen[index] += 1
            if rule.every_nth is not None:
                fires = self._seen[index] % rule.every_nth == 0
            elif rule.probability >= 1.0:
                fires = True
            else:
                # Drawn even for probability 0 so adding a disabled rule does not shift
                # the sequence of the others.
                fires = self._rng.random() < rule.probability
            if fires:
                self._fired[index] += 1
                return rule
        return None

    def snapshot(self) -> list[dict[str, Any]]:
        """Each rule with how many requests it saw, how often it fired, what budget is left."""
        out = []
        for rule, seen, fired in zip(self._rules, self._seen, self._fired, strict=True):
            entry = rule.to_json()
            entry["seen"] = seen
            entry["fired"] = fired
            entry["remaining"] = None if rule.budget is None else rule.budget - fired
            out.append(entry)
        return out

    def __repr__(self) -> str:
        kinds = ", ".join(rule.kind for rule in self._rules) or "none"
        return f"FaultInjector(rules=[{kinds}])"
