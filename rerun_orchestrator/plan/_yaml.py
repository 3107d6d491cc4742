"""YAML with positions: the composed node tree, read key by key, every problem reported.

We validate `yaml.compose` nodes rather than loaded Python objects because only nodes keep
their line and column, and because a node also keeps the scalar's source text: YAML 1.1
reads an unquoted ``10:00:00`` as the base-60 integer 36000, and the text is what the user
meant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .._limits import MAX_EXPANDED_NODES, MAX_MERGE_DEPTH, MAX_NESTING, MAX_PLAN_BYTES
from ._diagnostics import Diagnostic, Severity

__all__ = [
    "MappingNode",
    "Node",
    "Reporter",
    "ScalarNode",
    "SequenceNode",
    "compose",
    "construct",
    "describe",
    "mapping_items",
]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass
class Reporter:
    """Collects diagnostics for one file, positioned at YAML nodes."""

    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Each mapping's entries, merges applied, once: a node shared through aliases is read
    # many times, and recomputing its merges is exponential in a fan-out of merge keys.
    entries: dict[int, list[tuple[str, Node, Node]]] = field(default_factory=dict)

    def at(self, line: int, col: int, message: str, severity: Severity = "error") -> None:
        self.diagnostics.append(Diagnostic(self.path, line, col, message, severity))

    def error(self, node: Node, message: str) -> None:
        self.at(*position(node), message)

    def warning(self, node: Node, message: str) -> None:
        self.at(*position(node), message, "warning")

    @property
    def failed(self) -> bool:
        return any(d.is_error for d in self.diagnostics)


def position(node: Node) -> tuple[int, int]:
    """1-based (line, column) of a node's first character (PyYAML marks are 0-based)."""
    return node.start_mark.line + 1, node.start_mark.column + 1


class _TooLarge(yaml.YAMLError):
    """The document passes one of the bounds of `_limits`; carries where and why."""

    def __init__(self, mark: yaml.Mark, message: str) -> None:
        super().__init__(message)
        self.mark, self.message = mark, message


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe composer, refusing documents too deep or too large once expanded.

    Aliases make composing cheap (an alias is the anchored node, shared) and everything
    after it expensive (each use is read again), so each collection's size with its
    aliases expanded is counted as it is composed, from the sizes of its children. A
    document too large is reported at the alias use that weighs most in it.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}  # id(collection node) -> nodes once expanded
        # Per collection being composed: its heaviest alias use so far, (size, mark).
        self._open: list[tuple[int, yaml.Mark | None]] = []

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            mark = self._next_mark()
            node = super().compose_node(parent, index)
            self._note_alias(self._sizes.get(id(node), 1), mark)
            return node
        if len(self._open) >= MAX_NESTING:
            raise _TooLarge(
                self._next_mark(),
                f"the document is nested more than {MAX_NESTING} levels deep; a plan needs 5",
            )
        self._open.append((0, None))
        try:
            node = super().compose_node(parent, index)
        finally:
            heaviest = self._open.pop()
        if isinstance(node, SequenceNode | MappingNode):
            children = node.value if isinstance(node, SequenceNode) else _flat(node)
            # An alias of a collection still being composed (a cycle) counts as one value.
            size = 1 + sum(self._sizes.get(id(child), 1) for child in children)
            if size > MAX_EXPANDED_NODES:
                raise _too_many_values(node, *heaviest)
            self._sizes[id(node)] = size
        self._note_alias(*heaviest)
        return node

    def _next_mark(self) -> yaml.Mark:
        return self.peek_event().start_mark  # type: ignore[no-untyped-call,no-any-return]

    def _note_alias(self, size: int, mark: yaml.Mark | None) -> None:
        if mark is not None and self._open and size > self._open[-1][0]:
            self._open[-1] = (size, mark)


def _too_many_values(node: Node, weight: int, mark: yaml.Mark | None) -> _TooLarge:
    where = f"the {_kind(node)} at line {node.start_mark.line + 1}"
    if mark is None:  # no alias: simply a huge document
        return _TooLarge(
            node.start_mark,
            f"{where} holds more than {MAX_EXPANDED_NODES:,} values, the limit for a plan: "
            'write job ranges ("1-500") instead of long lists, or split the plan',
        )
    return _TooLarge(
        mark,
        f"with its aliases expanded, {where} holds more than {MAX_EXPANDED_NODES:,} values, "
        f"the limit for a plan; this alias alone stands for {weight:,} (a YAML bomb?)",
    )


def _kind(node: Node) -> str:
    return "list" if isinstance(node, SequenceNode) else "mapping"


def _flat(node: MappingNode) -> list[Node]:
    return [child for pair in node.value for child in pair]


def compose(text: str, report: Reporter) -> Node | None:
    """The document's root node, or None after reporting why there is none."""
    if len(text) > MAX_PLAN_BYTES:
        report.at(1, 1, _too_long(len(text)))
        return None
    try:
        root = yaml.compose(text, Loader=_BoundedLoader)
    except _TooLarge as exc:
        report.at(exc.mark.line + 1, exc.mark.column + 1, f"YAML error: {exc.message}")
        return None
    except yaml.MarkedYAMLError as exc:
        report.at(*_syntax_error(exc))
        return None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow in a file
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        char = exc.character
        shown = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        report.at(line, col, f"YAML error: character {shown} is not allowed in a YAML file")
        return None
    except yaml.YAMLError as exc:
        report.at(1, 1, f"YAML error: {str(exc).splitlines()[0]}")
        return None
    if root is None:
        report.at(1, 1, "the plan is empty: expected a mapping with version, name, timezone, ...")
    return root


def _too_long(size: int) -> str:
    return (
        f"the plan is {size:,} characters long, more than the limit of {MAX_PLAN_BYTES:,}: "
        'write job ranges ("1-500") instead of lists, or split it'
    )


def _syntax_error(exc: yaml.MarkedYAMLError) -> tuple[int, int, str]:
    """Position and words of a PyYAML scanner/parser error, in the order people read."""
    problem, context = exc.problem or "", exc.context or ""
    words = f"{context}, {problem}" if problem.startswith("but") else f"{problem} {context}"
    mark, started = exc.problem_mark or exc.context_mark, exc.context_mark
    if mark is None:
        return 1, 1, f"YAML syntax error: {words.strip() or exc}"
    if started is not None and (started.line, started.column) != (mark.line, mark.column):
        words += f" (which began at line {started.line + 1}, column {started.column + 1})"
    return mark.line + 1, mark.column + 1, f"YAML syntax error: {words.strip()}"


def construct(node: ScalarNode) -> Any:
    """The Python value PyYAML's safe loader gives a scalar (int, bool, date, str, None ...).

    Raises:
        ValueError: the scalar has a type tag but no valid value (e.g. ``2024-02-30``).
    """
    try:
        return yaml.constructor.SafeConstructor().construct_object(node, deep=True)
    # PyYAML's constructors fail in many ways on explicit tags (`!!int ""` is an IndexError).
    except Exception as exc:
        raise ValueError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc


def describe(node: Node) -> str:
    """How a node reads in a message: what it is, never its full content."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    try:
        value = construct(node)  # type: ignore[arg-type]
    except ValueError:
        return f"{node.value!r}"
    if value is None:
        return "null"
    kind = {bool: "the boolean ", int: "the integer ", float: "the number ", str: ""}
    return f"{kind.get(type(value), 'the date ')}{node.value!r}"


def mapping_items(
    node: MappingNode, report: Reporter, _merging: frozenset[int] = frozenset()
) -> list[tuple[str, Node, Node]]:
    """A mapping's ``(key, key node, value node)`` entries, in file order.

    Merge keys (``<<: *defaults``) are applied as YAML specifies: explicit keys win. Keys that
    are not strings and repeated keys are reported (PyYAML keeps the last silently, which
    hides a typo'd override); only the first of repeated keys is kept. Each mapping is read
    once per `report`; later calls return the same entries.
    """
    known = report.entries.get(id(node))
    if known is not None:
        return known
    items: list[tuple[str, Node, Node]] = []
    merged: list[tuple[str, Node, Node]] = []
    seen: dict[str, Node] = {}
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            merged.extend(_merge_sources(value_node, report, _merging | {id(node)}))
            continue
        if not isinstance(key_node, ScalarNode) or key_node.tag != _STR_TAG:
            report.error(key_node, f"keys must be strings, not {describe(key_node)}")
            continue
        key = key_node.value
        if key in seen:
            line, _ = position(seen[key])
            report.error(key_node, f"duplicate key {key!r} (first at line {line})")
            continue
        seen[key] = key_node
        items.append((key, key_node, value_node))
    for key, key_node, value_node in merged:
        if key not in seen:
            seen[key] = key_node
            items.append((key, key_node, value_node))
    report.entries[id(node)] = items
    return items


def _merge_sources(
    value: Node, report: Reporter, merging: frozenset[int]
) -> list[tuple[str, Node, Node]]:
    sources = value.value if isinstance(value, SequenceNode) else [value]
    entries: list[tuple[str, Node, Node]] = []
    for source in sources:
        if not isinstance(source, MappingNode):
            report.error(source, f"'<<' merges mappings, not {describe(source)}")
        elif id(source) in merging:
            report.error(source, "'<<' merges a mapping into itself")
        elif len(merging) >= MAX_MERGE_DEPTH:
            report.error(source, f"'<<' merges are chained more than {MAX_MERGE_DEPTH} deep here")
        else:
            entries.extend(mapping_items(source, report, merging))
    return entries
