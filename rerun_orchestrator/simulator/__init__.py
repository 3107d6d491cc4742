"""A faithful SchedulerX on 127.0.0.1, for our tests, ``run --simulate`` and users' tests.

It speaks the real wire protocol (RPC ``POST /`` with a form body, GET for the read APIs,
V3 and V1 signatures verified, the gateway's error bodies), keeps jobs and their
instances, enforces a per-account quota and injects faults on demand, including the
after-commit kinds that make a blind retry of the non-idempotent RerunJob dangerous.

It shares only the signer and the wire types with the client (`schedulerx`).
"""

from ._config import (
    DEFAULT_BUSINESS_CODES,
    CredentialSpec,
    JobSpec,
    SimulatorConfig,
    SimulatorConfigError,
)
from ._faults import AFTER_COMMIT_KINDS, FAULT_KINDS, FaultRule
from ._quota import QuotaSpec
from ._server import Simulator, serve
from ._thread import SimulatorThread

__all__ = [
    "AFTER_COMMIT_KINDS",
    "DEFAULT_BUSINESS_CODES",
    "FAULT_KINDS",
    "CredentialSpec",
    "FaultRule",
    "JobSpec",
    "QuotaSpec",
    "Simulator",
    "SimulatorConfig",
    "SimulatorConfigError",
    "SimulatorThread",
    "serve",
]
