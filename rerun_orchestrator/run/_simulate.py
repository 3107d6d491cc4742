"""``run --simulate``: a simulator that knows exactly the plan's jobs, for the demo.

This is command-line glue, imported only for ``--simulate``: the executor itself never
touches the simulator (it talks to whatever endpoint its client has).
"""

from __future__ import annotations

from ..plan import Plan, Rate
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
            region=job_set.region,
            namespace=job_set.namespace,
            group=job_set.group_id,
            job_ids=job_set.job_ranges,
            namespace_source=job_set.namespace_source,
            max_concurrency=_MAX_CONCURRENCY,
        )
        for job_set in plan.job_sets()
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
            "GetJobInstanceList": "100/min",
        },
        instance_wait_seconds=0.0,
        instance_run_seconds=1.0,
    )


def simulator_for(plan: Plan, credentials: Credentials, quota: Rate) -> Simulator:
    """A (not yet started) `Simulator` for `plan`; see `simulator_config_for`."""
    return Simulator(simulator_config_for(plan, credentials, quota))
