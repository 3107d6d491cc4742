"""The region ids SchedulerX has, as data, so that checking a plan needs no HTTP stack.

The list is the official SDK's endpoint map (`alibabacloud-schedulerx220190430` 2.2.3,
docs/schedulerx-api.md §2); `schedulerx._endpoints` turns it into hosts. It lives outside the
`schedulerx` package because importing that package loads aiohttp, and `validate` must
stay light.
"""

from __future__ import annotations

#: Regions with a host of their own (``schedulerx.<region>.aliyuncs.com``).
OWN_HOST_REGIONS = ("cn-beijing", "cn-hangzhou", "cn-shanghai", "cn-shenzhen")
#: Regions served by the central host; the request's ``RegionId`` picks the region.
CENTRAL_HOST_REGIONS = (
    "ap-southeast-8",
    "cn-wulanchabu",
    "ap-northeast-1",
    "cn-chengdu",
    "cn-qingdao",
    "cn-guangzhou",
    "cn-hongkong",
    "ap-southeast-1",
    "ap-southeast-3",
    "cn-huhehaote",
    "ap-southeast-5",
    "ap-southeast-6",
    "cn-zhangjiakou",
    "ap-southeast-7",
    "us-west-1",
    "us-east-1",
    "eu-central-1",
    "eu-west-1",
    "cn-shanghai-finance-1",
    "public",
)
KNOWN_REGIONS = frozenset(OWN_HOST_REGIONS + CENTRAL_HOST_REGIONS)


def suggest_region(region: str) -> str | None:
    """The known region id closest to a misspelt one (``cn-hangzou`` -> ``cn-hangzhou``)."""
    import difflib  # noqa: PLC0415 - only when something is misspelt

    close = difflib.get_close_matches(region, sorted(KNOWN_REGIONS), n=1, cutoff=0.75)
    return close[0] if close else None
