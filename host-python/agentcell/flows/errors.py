"""AI Spine's exceptions, named as the official `ai-spine-sdk` names them.

Each is also an `agentcell.AgentcellError` and, where one fits, the builtin a Python
user would catch: `ValidationError` is a `ValueError`, `AuthenticationError` a
`PermissionError`, `TimeoutError` the builtin `TimeoutError`, `NetworkError` a
`ConnectionError`. `details` holds the server's error body (or the execution, for an
`ExecutionError`).
"""

from __future__ import annotations

import builtins
import json
from typing import Any

from ..errors import AgentcellError

__all__ = [
    "AISpineError",
    "APIError",
    "AuthenticationError",
    "ExecutionError",
    "InsufficientCreditsError",
    "NetworkError",
    "RateLimitError",
    "TimeoutError",
    "ValidationError",
    "error_from_failure",
]


class AISpineError(AgentcellError):
    """Root of AI Spine's errors."""

    code = "ai-spine"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details: dict[str, Any] = details or {}


class AuthenticationError(AISpineError, PermissionError):
    """The service refused the API key (401)."""

    code = "unauthorized"


class ValidationError(AISpineError, ValueError):
    """An argument was refused, before sending or by the service (400, 422)."""

    code = "invalid-argument"


class ExecutionError(AISpineError):
    """The execution ended `failed`; `execution_id` names it and `details` is the execution."""

    code = "execution-failed"

    def __init__(
        self, message: str, execution_id: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details)
        self.execution_id = execution_id


class TimeoutError(AISpineError, builtins.TimeoutError):
    """No answer in time, or an execution still running when `wait_for_execution` gave up;
    `timeout` is the limit in seconds."""

    code = "timeout"

    def __init__(
        self, message: str, timeout: float | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details)
        self.timeout = timeout


class RateLimitError(AISpineError):
    """The service asked us to slow down (429); `retry_after` is in seconds, or None."""

    code = "rate-limited"

    def __init__(
        self, message: str, retry_after: int | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details)
        self.retry_after = retry_after


class InsufficientCreditsError(AISpineError):
    """A hosted service refused for want of credits (403 `INSUFFICIENT_CREDITS`)."""

    code = "insufficient-credits"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details)
        self.credits_needed: Any = self.details.get("credits_needed")
        self.credits_available: Any = self.details.get("credits_available")


class NetworkError(AISpineError, ConnectionError):
    """No answer at all: connection refused or reset, DNS, or the address not allowed."""

    code = "network"


class APIError(AISpineError):
    """Any other error answer; `status_code` says which (404 for an unknown id)."""

    code = "api"

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        response_body: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details)
        self.status_code = status_code
        self.response_body = response_body


def _details(details_json: str | None) -> dict[str, Any]:
    if details_json is None:
        return {}
    try:
        value = json.loads(details_json)
    except ValueError:
        return {"body": details_json}
    return value if isinstance(value, dict) else {"detail": value}


def error_from_failure(failure: dict[str, Any]) -> AISpineError:
    """The exception for a WIT `flows-client.failure` record."""
    kind = failure["kind"]
    message = str(failure["message"])
    details = _details(failure.get("details_json"))
    status = failure.get("status_code")
    if kind == "validation":
        return ValidationError(message, details)
    if kind == "authentication":
        return AuthenticationError(message, details)
    if kind == "insufficient-credits":
        return InsufficientCreditsError(message, details)
    if kind == "rate-limit":
        return RateLimitError(message, retry_after=failure.get("retry_after"), details=details)
    if kind == "timeout":
        return TimeoutError(message, details=details)
    if kind == "network":
        return NetworkError(message, details)
    return APIError(message, status_code=status, response_body=failure.get("details_json"), details=details)
