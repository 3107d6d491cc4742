"""The command line's option types: each value is checked as it is parsed.

argparse calls these while it reads the arguments, so a bad value ends the command with
one line and exit 2 before any file is opened or any request is sent. The numeric bounds
are the plan's own (`_limits`): an override can never be what a plan may not be.
Each type returns what the command expects (rates stay text, which `run` parses again).
Only `_limits` is imported up front: every command parses its arguments, and `status` or
`--version` should not pay for the plan package.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from .._limits import INT_BOUNDS, MAX_TIMEOUT_SECONDS, int_bounds_error


def count(what: str) -> Callable[[str], int]:
    """An integer within the plan's bounds for `what` (``concurrency``, ``max_chunks``)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip(), 10)
        except ValueError:
            low, high = INT_BOUNDS[what]
            raise argparse.ArgumentTypeError(
                f"expected an integer from {low} to {high:,}, not {text!r}"
            ) from None
        problem = int_bounds_error(what, value)
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


def seconds(*, minimum: float, maximum: float = MAX_TIMEOUT_SECONDS) -> Callable[[str], float]:
    """A finite number of seconds from `minimum` to `maximum`, both included."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and minimum <= value <= maximum):
            raise argparse.ArgumentTypeError(
                f"expected a number of seconds from {minimum:g} to {maximum:g}, not {text!r}"
            )
        return value

    parse.__name__ = "seconds"
    return parse


def rate(text: str) -> str:
    """A rate (``100/min``, ``1.5/s``) within the plan's bounds; returned as written."""
    from ..plan import parse_rate  # noqa: PLC0415 - only for the commands that take a rate

    try:
        parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def port(text: str) -> int:
    """A TCP port, 0 (the system picks one) to 65535."""
    try:
        value = int(text, 10)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, not {text!r}")
    return value


def endpoint(text: str) -> str:
    """An endpoint URL; ``HOST:PORT`` of a loopback host means ``http://HOST:PORT``.

    Only the scheme is settled here; `run` checks the rest of the URL (plaintext only to
    loopback, no path or user info) with the client's own rules.
    """
    from urllib.parse import urlsplit  # noqa: PLC0415 - only for the commands that take it

    value = text.strip()
    if "://" in value:
        return value
    try:
        parts = urlsplit("//" + value)
        host, has_port = parts.hostname, parts.port is not None
    except ValueError:  # a port that is not a number, a bracket left open
        host, has_port = None, False
    if host and has_port and _is_loopback(host):
        return "http://" + value
    shown = value.rpartition("@")[2]  # never repeat user info
    raise argparse.ArgumentTypeError(
        f"{shown!r} has no scheme: write https://{shown} (or HOST:PORT for 127.0.0.1, ::1 "
        "or localhost, which means http://)"
    )


def _is_loopback(host: str) -> bool:
    # As schedulerx.is_loopback_host says it, without importing the HTTP stack to parse argv.
    import ipaddress  # noqa: PLC0415

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
