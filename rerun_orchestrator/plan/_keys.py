"""Which keys a plan may hold where, the hints for those it may not, and secrets in plans.

Plans live in Git, so anything that looks like a credential is an error wherever it
appears, and its value is never repeated in the message (it would land in CI logs).
"""

from __future__ import annotations

import re

from ._yaml import MappingNode, Node, Reporter, ScalarNode, SequenceNode

# Keys a target may override; at the top level they are the defaults of every target.
LOCATION_KEYS = ("region", "namespace", "namespace_source", "group", "data_time", "chunk_days")

TOP_KEYS = (
    "version",
    "name",
    "description",
    "timezone",
    *LOCATION_KEYS,
    "targets",
    "execution",
)
TARGET_KEYS = ("description", *LOCATION_KEYS, "jobs", "windows", "execution")
WINDOW_KEYS = ("start", "end")
EXECUTION_KEYS = (
    "rate",
    "concurrency",
    "max_attempts",
    "order",
    "per_job_concurrency",
    "max_chunks",
    "account_quota",
    # good neighbour (`_neighbour`)
    "max_active_per_job",
    "max_active_per_group",
    "read_rate",
    "windows",
)
# Top-level keys starting with this are ignored, so anchors (`x-defaults: &d {...}`) have a home.
EXTENSION_PREFIX = "x-"

_HOMES = {
    "the top level": TOP_KEYS,
    "a target": TARGET_KEYS,
    "a window": WINDOW_KEYS,
    "execution": EXECUTION_KEYS,
}
_WHERE = {
    "the top level": "at the top level",
    "a target": "in a target",
    "a window": "in a window",
    "execution": "in execution",
}

CREDENTIAL_ADVICE = (
    "plans live in Git, so they never hold credentials; set ALIBABA_CLOUD_ACCESS_KEY_ID and "
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN for STS) in the "
    "environment instead"
)
_CREDENTIAL_PARTS = (
    "secret",
    "password",
    "passwd",
    "accesskey",
    "token",
    "credential",
    "privatekey",
    "apikey",
)
_CREDENTIAL_NAMES = frozenset({"ak", "sk", "akid", "aksk", "aksecret", "pwd"})
_SEPARATORS = re.compile(r"[\s_.\-]+")
# Alibaba Cloud AccessKey IDs start with LTAI; STS AccessKey IDs and tokens with "STS.".
_CREDENTIAL_VALUE = re.compile(r"^(LTAI[0-9A-Za-z]{12,30}|STS\.[0-9A-Za-z]{12,})$")


def looks_like_credential(key: str) -> bool:
    """True for keys such as ``access_key_secret``, ``AccessKeyId``, ``security-token``."""
    norm = _SEPARATORS.sub("", key.lower())
    return norm in _CREDENTIAL_NAMES or any(part in norm for part in _CREDENTIAL_PARTS)


def report_unknown_key(report: Reporter, key: str, key_node: Node, scope: str) -> None:
    """An unknown key, with the nearest allowed key of this scope or the scope it belongs to."""
    if looks_like_credential(key):
        return  # `scan_credentials` reports it, with the advice that matters more
    allowed = _HOMES[scope]
    message = f"unknown key {key!r} {_WHERE[scope]}"
    homes = [_WHERE[name] for name, keys in _HOMES.items() if key in keys and name != scope]
    import difflib  # noqa: PLC0415 - only when something is misspelt

    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if homes:
        message += f" (it belongs {' or '.join(homes)})"
    elif close:
        message += f"; did you mean {close[0]!r}?"
    else:
        message += f"; allowed: {', '.join(allowed)}"
    report.error(key_node, message)


def scan_credentials(root: Node, report: Reporter) -> None:
    """Report every credential-looking key or value anywhere in the document."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:  # aliases share nodes, and may even form cycles
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode) and looks_like_credential(key_node.value):
                    report.error(
                        key_node,
                        f"key {key_node.value!r} looks like a credential: {CREDENTIAL_ADVICE}",
                    )
                stack.extend((key_node, value_node))
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, ScalarNode) and _CREDENTIAL_VALUE.fullmatch(node.value):
            report.error(
                node, f"this value looks like an AccessKey ID or STS token: {CREDENTIAL_ADVICE}"
            )
