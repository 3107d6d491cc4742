"""The request pipeline, minus HTTP: API lookup, auth, quota, faults, the action, counters.

Given a decoded request it returns an `Outcome` (bytes to send, how late, or a reset)
and keeps every record the inspection routes show. The aiohttp layer only translates.

Order, as a gateway in front of a service: find the API, authenticate, take a quota
token, draw a fault (pre-commit kinds answer here), validate parameters and run the
action, then apply an after-commit fault to the answer.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .._clock import Clock
from ..schedulerx._wire import API_VERSION
from . import _errors, _render
from ._actions import ACTIONS, Answer, CallContext
from ._auth import Authenticator, IncomingRequest
from ._config import CredentialSpec, SimulatorConfig
from ._errors import GatewayError
from ._faults import FaultInjector, FaultRule
from ._peaks import peaks
from ._production import ProductionRuns
from ._quota import QuotaTable
from ._render import Rendered
from ._state import SimState

_COUNTER_KEYS = ("requests", "accepted", "business_failures", "rejected", "throttled")
_REQUEST_LOG_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to do on the wire: send `rendered` after `delay_s`, or reset if it is None."""

    request_id: str
    rendered: Rendered | None
    delay_s: float = 0.0


class Gateway:
    """The simulated service behind one base URL; all methods are synchronous and pure I/O-free."""

    def __init__(self, config: SimulatorConfig, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self.state = SimState(config)
        self._production = ProductionRuns(self.state, self._now_ms())
        self._auth = Authenticator(config.credentials, config.timestamp_window_seconds)
        self._quota = QuotaTable(
            {a: config.quota_for(a) for a in config.quota}, config.quota_for("")
        )
        self._faults = FaultInjector(config.faults, random.Random(config.seed))
        self._counters: dict[str, dict[str, Any]] = {}
        self._requests: deque[dict[str, Any]] = deque(maxlen=_REQUEST_LOG_SIZE)

    # -- the pipeline ---------------------------------------------------------------

    def handle(self, request: IncomingRequest, host: str) -> Outcome:
        """Answer one API request as the real gateway and service would."""
        request_id = _render.new_request_id()
        fmt = self._format(request)
        action, version = request.action_and_version()
        name = action if action is not None and action in ACTIONS else "_unknown"
        counters = self._count(name, "requests")
        log: dict[str, Any] = {"request_id": request_id, "action": action, "access_key_id": None}
        log |= {"http_status": None, "code": None, "fault": None, "at": self._clock.wall()}
        self._requests.append(log)

        def refuse(err: GatewayError, counter: str = "rejected") -> Outcome:
            counters[counter] += 1
            rendered = _render.error(err, request_id, host, fmt)
            log.update(http_status=rendered.status, code=err.code)
            return Outcome(request_id, rendered)

        pre = self._preflight(request, action, version)
        if pre is not None:
            return refuse(pre)
        assert action is not None
        credential = self._auth.authenticate(request, self._clock.wall())
        if isinstance(credential, GatewayError):
            return refuse(credential)
        log["access_key_id"] = credential.access_key_id
        wait_ms = self._quota.take(action, credential.owner, self._clock.now())
        if wait_ms is not None:
            hint = wait_ms if self.config.retry_after_header else None
            return refuse(_errors.throttled(hint), "throttled")

        self._production.advance(self._now_ms())  # scheduled runs due by now come first
        fault = self._faults.draw(action)
        if fault is not None:
            log["fault"] = fault.kind
            counters["faults"][fault.kind] = counters["faults"].get(fault.kind, 0) + 1
            if not fault.after_commit:
                return self._pre_commit(fault, request_id, host, fmt, log)

        result = ACTIONS[action](
            self.state, request.params(), self._context(request_id, credential)
        )
        if isinstance(result, GatewayError):
            return refuse(result)
        counters["accepted"] += 1
        if not result.success:
            counters["business_failures"] += 1
        rendered = _render.answer(result.body, request_id, action, fmt)
        log.update(http_status=200, code=result.body.get("Code"))
        if fault is not None:
            return self._after_commit(
                fault,
                result=result,
                rendered=rendered,
                request_id=request_id,
                host=host,
                fmt=fmt,
                log=log,
            )
        return Outcome(request_id, rendered)

    def _preflight(
        self, request: IncomingRequest, action: str | None, version: str | None
    ) -> GatewayError | None:
        if request.method not in ("GET", "POST"):
            return _errors.BAD_METHOD
        if not action:
            return _errors.missing("Action")
        if action not in ACTIONS:
            return _errors.API_NOT_FOUND
        if not version:
            return _errors.missing("Version")
        if version != API_VERSION:
            return _errors.BAD_VERSION
        return None

    @staticmethod
    def _format(request: IncomingRequest) -> str:
        # V1 answers XML unless Format=JSON (the gateway's default); V3 always JSON.
        if request.is_v3:
            return "json"
        return "json" if request.params().get("Format", "XML").lower() == "json" else "xml"

    def _now_ms(self) -> int:
        return round(self._clock.wall() * 1000)

    def _context(self, request_id: str, credential: CredentialSpec) -> CallContext:
        return CallContext(request_id, credential.access_key_id, self._now_ms())

    def _pre_commit(
        self, fault: FaultRule, request_id: str, host: str, fmt: str, log: dict[str, Any]
    ) -> Outcome:
        if fault.kind == "reset":
            return Outcome(request_id, None)
        if fault.kind == "non_json":
            rendered = _render.bad_gateway_page()
        elif fault.kind == "throttle":
            code = fault.code or "Throttling.User"
            rendered = _render.error(
                _errors.throttled(fault.retry_after_ms, code), request_id, host, fmt
            )
        else:
            rendered = _render.error(_errors.UNAVAILABLE, request_id, host, fmt)
        log["http_status"] = rendered.status
        return Outcome(request_id, rendered)

    def _after_commit(
        self,
        fault: FaultRule,
        *,
        result: Answer,
        rendered: Rendered,
        request_id: str,
        host: str,
        fmt: str,
        log: dict[str, Any],
    ) -> Outcome:
        if fault.kind == "reset_after_commit":
            log["http_status"] = None
            return Outcome(request_id, None)
        if fault.kind == "slow_after_commit":
            return Outcome(request_id, rendered, delay_s=fault.delay_seconds)
        if fault.kind == "non_json_after_commit":
            return Outcome(request_id, _render.truncated(rendered))
        error = _render.error(_errors.INTERNAL, request_id, host, fmt)
        log.update(http_status=error.status, code=_errors.INTERNAL.code)
        return Outcome(request_id, error)

    def _count(self, action: str, key: str) -> dict[str, Any]:
        counters = self._counters.get(action)
        if counters is None:
            counters = self._counters[action] = dict.fromkeys(_COUNTER_KEYS, 0)
            counters["faults"] = {}
        counters[key] += 1
        return counters

    # -- inspection -----------------------------------------------------------------

    def calls(self) -> list[dict[str, Any]]:
        return [dict(call) for call in self.state.calls]

    def instances(self, job_id: int | None = None) -> list[dict[str, Any]]:
        now_ms = self._now_ms()
        self._production.advance(now_ms)
        zone = self.state.zone
        return [i.to_inspection(now_ms, zone) for i in self.state.all_instances(job_id)]

    def peaks(self, trigger_type: int | None = None) -> dict[str, Any]:
        """Most instances active and running at once, per job and group (see `_peaks`)."""
        self._production.advance(self._now_ms())
        return peaks(self.state.all_instances(), trigger_type)

    def retries(self) -> list[dict[str, Any]]:
        return [dict(retry) for retry in self.state.retries]

    def skipped(self) -> list[dict[str, Any]]:
        """Scheduled production runs SchedulerX skipped because the job was busy."""
        self._production.advance(self._now_ms())
        return [dict(skip) for skip in self.state.skipped]

    def counters(self) -> dict[str, Any]:
        self._production.advance(self._now_ms())
        out: dict[str, Any] = {
            action: {**c, "faults": dict(c["faults"])} for action, c in self._counters.items()
        }
        out["_totals"] = {
            "calls": len(self.state.calls),
            "instances": sum(1 for _ in self.state.all_instances()),
            "retries": len(self.state.retries),
            "skipped": len(self.state.skipped),
        }
        return out

    def requests(self) -> list[dict[str, Any]]:
        return [dict(entry) for entry in self._requests]

    def faults(self) -> list[dict[str, Any]]:
        return self._faults.snapshot()

    def set_faults(self, rules: Iterable[FaultRule]) -> None:
        self._faults.replace(rules)

    def reset(self) -> None:
        """Back to a fresh start: no instances, calls, counters, quota use or nonces."""
        self.state.reset()
        self._production.restart(self._now_ms())
        self._counters.clear()
        self._requests.clear()
        self._quota.reset()
        self._auth.nonces.clear()
        self._faults.replace(self._faults.rules)
