"""``run --simulate``: a simulator that knows exactly the plan's jobs, for the demo.

This is command-line glue, imported only for ``--simulate``: the executor itself never
touches the simulator (it talks to whatever endpoint its client has).
"""

from __future__ import annotations

from ..plan import Plan, Rate
from ..plan._plan import JobRange
from ..schedulerx import Credentials
from ..simulator import CredentialSpec, JobSpec, QuotaSpec, Simulator, SimulatorConfig

# Instances of a simulated job run side by side, so the demo's reconciliation and any
# GetJobInstanceList reader see them finish quickly.
_MAX_CONCURRENCY = 1000


def simulator_config_for(plan: Plan, credentials: Credentials, quota: Rate) -> SimulatorConfig:
    """A config whose jobs are the plan's, whose only key is `credentials`, and whose
    RerunJob quota is `quota` (burst of one second's worth, as SchedulerX's)."""
    jobs = tuple(
        JobSpec(
            region=region,
            namespace=namespace,
            group=group,
            job_ids=ranges,
            namespace_source=source,
            max_concurrency=_MAX_CONCURRENCY,
        )
        for (region, namespace, source, group), ranges in _job_ranges(plan).items()
    )
    per_second = quota.per_second
    return SimulatorConfig(
        server_timezone=plan.timezone,
        credentials=(
            CredentialSpec(
                credentials.access_key_id,
                credentials.access_key_secret,
                credentials.security_token,
            ),
        ),
        jobs=jobs,
        quota={
            "RerunJob": QuotaSpec(per_second, max(1.0, per_second)),
            # as fast as RerunJob, so that watching a simulated run takes no longer than it
            "GetJobInstanceList": QuotaSpec(per_second, max(1.0, per_second)),
        },
        instance_wait_seconds=0.0,
        instance_run_seconds=0.2,
    )


def _job_ranges(plan: Plan) -> dict[tuple[str, str, str | None, str], tuple[JobRange, ...]]:
    """The plan's job ranges per location, merged; a job id is in one location per region.

    A job listed by two targets of one location (two windows) is one job. SchedulerX job ids
    are unique in a region, so an id the plan also places in another group stays where it
    was first listed: the pre-flight then finds it in the wrong group, as it would for real.
    """
    claimed: dict[str, list[JobRange]] = {}
    found: dict[tuple[str, str, str | None, str], list[JobRange]] = {}
    for job_set in plan.job_sets():
        key = (job_set.region, job_set.namespace, job_set.namespace_source, job_set.group_id)
        taken = claimed.setdefault(job_set.region, [])
        own = found.setdefault(key, [])
        for first, last in job_set.job_ranges:
            for span in _subtract((first, last), [r for r in taken if r not in own]):
                own.append(span)
                taken.append(span)
    return {key: _merge(spans) for key, spans in found.items()}


def _subtract(span: JobRange, others: list[JobRange]) -> list[JobRange]:
    """The parts of `span` that no range of `others` covers."""
    pieces = [span]
    for low, high in others:
        kept: list[JobRange] = []
        for first, last in pieces:
            if last < low or high < first:
                kept.append((first, last))
                continue
            if first < low:
                kept.append((first, low - 1))
            if high < last:
                kept.append((high + 1, last))
        pieces = kept
    return pieces


def _merge(spans: list[JobRange]) -> tuple[JobRange, ...]:
    merged: list[JobRange] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return tuple(merged)


def simulator_for(plan: Plan, credentials: Credentials, quota: Rate) -> Simulator:
    """A (not yet started) `Simulator` for `plan`; see `simulator_config_for`."""
    return Simulator(simulator_config_for(plan, credentials, quota))
