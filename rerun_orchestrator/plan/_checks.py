"""Checks across a whole plan: days planned twice, the size limit, the zone of cn-* regions.

They run once every entry has been read, on values rather than on single nodes, and point
their findings back at the nodes that caused them.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from ._calendar import utc_offset_at
from ._overlaps import Rect, find_overlaps
from ._plan import Plan, Target
from ._yaml import MappingNode, Node, Reporter, position

_UTC8 = timedelta(hours=8)
_SERVER_ZONE = ZoneInfo("Asia/Shanghai")  # where SchedulerX cuts days for cn-* regions


def report_overlaps(report: Reporter, rects: list[Rect]) -> None:
    """One error per colliding pair of plan entries, at the later one, naming the earlier."""
    said: set[tuple[int, int]] = set()  # (node, other node): one message per pair
    for first, second in find_overlaps(rects):
        jobs = _span(max(first.first_job, second.first_job), min(first.last_job, second.last_job))
        day_from = date.fromordinal(max(first.first_day, second.first_day))
        day_to = date.fromordinal(min(first.last_day, second.last_day))
        days = str(day_from) if day_from == day_to else f"{day_from}..{day_to}"
        if first.order[:2] == second.order[:2]:
            node, other, why = second.window_node, first.window_node, "overlapping windows"
        elif first.order[0] == second.order[0]:
            node, other, why = second.job_node, first.job_node, "overlapping job ranges"
        else:
            node, other = second.job_node, first.job_node
            why = f"targets {first.order[0] + 1} and {second.order[0] + 1} overlap"
        if (id(node), id(other)) in said:
            continue
        said.add((id(node), id(other)))
        line, col = position(other)
        where = "/".join(second.location)
        report.error(
            node,
            f"{jobs} on {days} would be rerun twice in {where}: already planned at "
            f"{report.path}:{line}:{col} ({why})",
        )


def check_size(report: Reporter, plan: Plan, key_node: Node, limit: int) -> None:
    """Refuse plans that expand past `limit` chunks, saying how many they would be."""
    count = plan.count_chunks()
    if count > limit:
        report.error(
            key_node,
            f"the plan expands to {count:,} chunks (RerunJob calls), more than the limit"
            f" of {limit:,}: split it, or raise the limit with --max-chunks or"
            " execution.max_chunks",
        )


def warn_zone(
    report: Reporter, plan: Plan, region_nodes: list[Node | None], root: MappingNode
) -> None:
    """SchedulerX cuts days at UTC+8 midnight in cn-* regions; warn when we would not."""
    zone = ZoneInfo(plan.timezone)
    warned: set[int] = set()
    for target, region_node in zip(plan.targets, region_nodes, strict=True):
        if not target.region.startswith("cn-"):
            continue
        # Compared with Asia/Shanghai rather than a fixed +8: it had DST in 1986-1991.
        off = sorted(
            {
                offset
                for day in _sample_days(target)
                if (offset := utc_offset_at(day, zone)) != utc_offset_at(day, _SERVER_ZONE)
            }
        )
        if not off:
            continue
        node = region_node or root
        if id(node) in warned:
            continue
        warned.add(id(node))
        side = "the server's previous day" if off[-1] > _UTC8 else "a later hour of the same day"
        report.warning(
            node,
            f"region {target.region} cuts days in Asia/Shanghai time (UTC+8) but the plan's "
            f"timezone {plan.timezone} is at UTC{_fmt_offset(off[-1])}: its midnight falls on "
            f"{side}; use timezone: Asia/Shanghai unless you know the server's zone differs",
        )


def warn_quota(report: Reporter, plan: Plan, rate_nodes: dict[str, Node], root: Node) -> None:
    """A rate above the account's RerunJob quota cannot happen; say so where it is set."""
    execution = plan.execution
    if execution.pace[0] == execution.rate:
        return
    node = rate_nodes.get("rate") or rate_nodes.get("account_quota") or root
    whose = (
        "execution.account_quota"
        if "account_quota" in rate_nodes
        else "SchedulerX's documented quota per account, shared by every caller"
    )
    report.warning(
        node,
        f"rate {execution.rate} is above the account's RerunJob quota of "
        f"{execution.account_quota} ({whose}): the run cannot go faster than the quota; "
        "lower the rate, or set execution.account_quota if the quota was raised",
    )


def _span(first: int, last: int) -> str:
    return f"job {first}" if first == last else f"jobs {first}-{last}"


def _sample_days(target: Target) -> list[date]:
    days = [d for w in target.windows for d in (w.start, w.end)]
    years = range(target.first_day.year, target.last_day.year + 1)
    days += [date(y, m, 15) for y in years for m in (1, 7)]
    return days


def _fmt_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"
