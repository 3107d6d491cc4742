"""Where a request goes: the regional endpoint map, and the guard on endpoint overrides.

The map is the official SDK's (`alibabacloud-schedulerx220190430` 2.2.3, docs/schedulerx-api.md
§2): four regions have their own host, every other listed region uses the central host, because
the region actually addressed is the request's ``RegionId``. A region that is not in the map is
refused rather than guessed: the SDK's fallback (``schedulerx2.<region>.aliyuncs.com``) is
probably not a real host, and a typo in a plan should fail before anything is sent.

An override sends every region to one URL (the simulator, a VPC endpoint, a proxy). It may
use plaintext HTTP only to a loopback host, since a signed request carries a security token
and can be replayed by whoever reads it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import urlsplit

from .._regions import CENTRAL_HOST_REGIONS as _CENTRAL
from .._regions import OWN_HOST_REGIONS as _OWN_HOST
from .._regions import suggest_region
from ._errors import EndpointError

CENTRAL_HOST = "schedulerx.aliyuncs.com"

#: Region id -> host, as the official SDK resolves it.
ENDPOINT_MAP = MappingProxyType(
    {
        **{region: f"schedulerx.{region}.aliyuncs.com" for region in _OWN_HOST},
        **dict.fromkeys(_CENTRAL, CENTRAL_HOST),
    }
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A resolved endpoint: the base URL requests go to and the ``host`` header they sign."""

    base_url: str  # scheme://host[:port], no trailing slash
    host: str  # host[:port] exactly as in the URL (IPv6 in brackets)

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        return cls(base_url=f"{parts.scheme}://{host}", host=host)


def resolve_endpoint(region: str) -> str:
    """The HTTPS base URL for `region`, e.g. ``https://schedulerx.cn-hangzhou.aliyuncs.com``.

    Raises:
        EndpointError: the region is not in the official endpoint map (pass an endpoint
            override, e.g. ``https://schedulerx.aliyuncs.com``, to reach it anyway).
    """
    host = ENDPOINT_MAP.get(region)
    if host is None:
        close = suggest_region(region)
        fix = f"did you mean {close!r}? Else" if close else "check the spelling, or"
        raise EndpointError(
            f"region {region!r} is not in the SchedulerX endpoint map; {fix} "
            f"pass an endpoint override (e.g. https://{CENTRAL_HOST}) to reach it anyway"
        )
    return f"https://{host}"


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1).

    Not ``*.localhost``: RFC 6761 reserves it, but a resolver may still send it elsewhere,
    and a signed request in plaintext must not leave the machine.
    """
    bare = host.strip("[]").lower()
    if bare == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def check_endpoint_override(url: str) -> str:
    """Validate an endpoint override and return it as ``scheme://host[:port]``.

    Accepts ``https://`` to any host and ``http://`` only to a loopback host. A path other
    than ``/``, a query, a fragment or user info is refused: the RPC API lives at ``/`` and
    anything else would silently change what is signed.

    Raises:
        EndpointError: with a message that never repeats user info from the URL.
    """
    try:
        parts = urlsplit(url.strip())
        hostname = parts.hostname
        port = parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        raise EndpointError(f"endpoint override is not a valid URL: {exc}") from None
    shown = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    if parts.scheme not in ("http", "https"):
        raise EndpointError(f"endpoint override must start with https:// (got {shown!r})")
    if not hostname:
        raise EndpointError(f"endpoint override has no host: {shown!r}")
    if parts.username is not None or parts.password is not None:
        raise EndpointError(f"endpoint override must not contain user info: {shown!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise EndpointError(f"endpoint override must be a bare scheme://host[:port]: {shown!r}")
    if parts.scheme == "http" and not is_loopback_host(hostname):
        raise EndpointError(
            f"refusing plaintext HTTP to non-loopback host {hostname!r}: signed requests "
            "carry credentials; use https:// (http:// is allowed only for 127.0.0.1, ::1, "
            "localhost)"
        )
    del port  # validated above; kept in the netloc as written
    return f"{parts.scheme}://{parts.netloc.lower()}"
