"""The client's exceptions: a small tree, data not classes per code.

    SchedulerXError
     ├── CredentialsError   no usable credentials were found (nothing was sent)
     │    └── CredentialsNotFoundError   this source holds none; a chain tries the next
     ├── EndpointError      an endpoint we refuse (plaintext HTTP to a non-loopback host)
     └── ApiCallError       a call that did not succeed; carries the classified AttemptResult
                            (code, HTTP status, RequestId, retry-after) as data

RerunJob never raises ApiCallError: its failures are results (`AttemptResult`) because the
executor decides what they mean. Read calls (GetJobInstanceList, GetJobInfo) raise it.
Messages never contain a secret or a security token.
"""

from __future__ import annotations

from ._wire import AttemptResult


class SchedulerXError(Exception):
    """Base of every error raised by `rerun_orchestrator.schedulerx`."""


class CredentialsError(SchedulerXError):
    """No credentials could be resolved, or they are incomplete."""


class CredentialsNotFoundError(CredentialsError):
    """A source that is simply not configured (no variables, no file, no such profile).

    A `ChainCredentialsProvider` moves on to its next source after this error, but stops at
    any other `CredentialsError`: a source that is configured but broken (a key id without
    its secret) must be fixed, not silently skipped in favour of another account's keys.
    """


class EndpointError(SchedulerXError):
    """An endpoint that would leak a signed request, or that cannot be resolved."""


class ApiCallError(SchedulerXError):
    """A read call failed; `result` says how (its verdict tells whether to retry)."""

    def __init__(self, action: str, result: AttemptResult) -> None:
        self.action = action
        self.result = result
        parts = [f"{action} failed: {result.reason}"]
        if result.code is not None:
            parts.append(f"code={result.code}")
        if result.http_status is not None:
            parts.append(f"http_status={result.http_status}")
        if result.request_id:
            parts.append(f"request_id={result.request_id}")
        super().__init__(" ".join(parts))
