"""The workbench's errors: one tree, rooted in :class:`WorkbenchError`.

Client errors are the caller's to fix and are never worth retrying; server errors
come from a store or the model endpoint, and each says whether a retry may help::

    WorkbenchError                      retryable
    ├── ClientError                     no
    │   ├── ValidationError             no   bad input: role, ids, content, types
    │   ├── NotFoundError               no   no such session *for this user*
    │   └── ConfigurationError          no   bad settings, missing optional extra
    └── ServerError
        ├── StoreError                  no   a store answered with an error
        │   └── StoreUnavailableError   yes  a store could not be reached / timed out
        └── LLMError                    no
            ├── LLMConnectionError      yes  endpoint unreachable
            │   └── LLMTimeoutError     yes  no answer within the timeout
            └── LLMStatusError          408/409/429/5xx: yes, other codes: no
                └── RateLimitError      yes  HTTP 429, with ``retry_after`` seconds

Another user's session is reported as :class:`NotFoundError`, exactly as an
unknown id is, so that an error never reveals that a session exists.
"""

from __future__ import annotations

__all__ = [
    "ClientError",
    "ConfigurationError",
    "LLMConnectionError",
    "LLMError",
    "LLMStatusError",
    "LLMTimeoutError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "StoreError",
    "StoreUnavailableError",
    "ValidationError",
    "WorkbenchError",
]


class WorkbenchError(Exception):
    """Root of every error the workbench raises on purpose."""

    retryable: bool = False


class ClientError(WorkbenchError):
    """The call was wrong; retrying it unchanged cannot help."""


class ValidationError(ClientError, ValueError):
    """An argument failed validation; nothing was written."""


class NotFoundError(ClientError, LookupError):
    """No such session for this user (unknown, deleted, or another user's)."""


class ConfigurationError(ClientError):
    """Settings are inconsistent, or an optional extra is not installed."""


class ServerError(WorkbenchError):
    """A store or the model endpoint failed."""


class StoreError(ServerError):
    """A store answered with an error."""

    def __init__(self, message: str, *, store: str) -> None:
        super().__init__(f"{store}: {message}")
        self.store = store


class StoreUnavailableError(StoreError):
    """A store could not be reached, or did not answer in time."""

    retryable = True


class LLMError(ServerError):
    """The model endpoint failed."""


class LLMConnectionError(LLMError):
    """The model endpoint could not be reached."""

    retryable = True


class LLMTimeoutError(LLMConnectionError):
    """The model endpoint did not answer within the timeout."""


class LLMStatusError(LLMError):
    """The model endpoint answered with an HTTP error status."""

    def __init__(self, message: str, *, status_code: int, request_id: str | None = None) -> None:
        super().__init__(f"HTTP {status_code}: {message}" + (f" (request {request_id})" if request_id else ""))
        self.status_code = status_code
        self.request_id = request_id
        self.retryable = status_code in (408, 409, 429) or status_code >= 500


class RateLimitError(LLMStatusError):
    """HTTP 429; ``retry_after`` is the server's hint in seconds, if it gave one."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, request_id=request_id)
        self.retry_after = retry_after
