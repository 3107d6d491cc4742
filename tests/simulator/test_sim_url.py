"""The URL `simulate` prints works from this machine, whatever address it is bound to."""

from __future__ import annotations

import pytest

from rerun_orchestrator.schedulerx import check_endpoint_override
from rerun_orchestrator.simulator._server import base_url


@pytest.mark.parametrize(
    ("bound", "url"),
    [
        ("0.0.0.0", "http://127.0.0.1:8089"),
        ("", "http://127.0.0.1:8089"),
        ("::", "http://[::1]:8089"),
        ("::1", "http://[::1]:8089"),
        ("127.0.0.1", "http://127.0.0.1:8089"),
        ("127.0.0.5", "http://127.0.0.5:8089"),
    ],
)
def test_a_wildcard_address_is_shown_as_the_loopback_of_its_family(bound: str, url: str) -> None:
    assert base_url(bound, 8089) == url
    assert check_endpoint_override(url) == url  # and run --endpoint accepts it
