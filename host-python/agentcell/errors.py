"""The exception hierarchy of agentcell: one root, subclassing the builtins a Python
user would catch (`ValueError`, `KeyError`, `TimeoutError`, `PermissionError`)."""

from __future__ import annotations

__all__ = [
    "AgentcellError",
    "ComponentLoadError",
    "ComponentTrap",
    "HttpDeniedError",
    "HttpError",
    "HttpTimeoutError",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "ResourceLimitError",
    "StorageError",
]


class AgentcellError(Exception):
    """Root of every error agentcell raises.

    `code` is the WIT `error-code` (e.g. ``"invalid-argument"``); `field` names the
    argument at fault when there is one.
    """

    code: str = "internal"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class InvalidArgumentError(AgentcellError, ValueError):
    """An argument broke a rule; `field` names it."""

    code = "invalid-argument"


class NotFoundError(AgentcellError, KeyError):
    """The thing asked for does not exist."""

    code = "not-found"

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.message


class StorageError(AgentcellError):
    """The storage backend failed or refused; nothing was half-written."""

    code = "storage"


class HttpDeniedError(AgentcellError, PermissionError):
    """The HTTP allow-list refused the destination; no request was sent."""

    code = "http-denied"


class HttpTimeoutError(AgentcellError, TimeoutError):
    """An HTTP request did not complete within its timeout."""

    code = "http-timeout"


class HttpError(AgentcellError):
    """An HTTP request failed (connection refused, DNS, protocol error)."""

    code = "http-failed"


class InternalError(AgentcellError):
    """A bug in the component."""

    code = "internal"


class AuthenticationError(AgentcellError, PermissionError):
    """A service refused the credentials (HTTP 401/403)."""

    code = "unauthorized"


class RateLimitedError(AgentcellError):
    """A service asked us to slow down (HTTP 429); `retry_after` is in seconds, or None."""

    code = "rate-limited"
    retry_after: float | None = None


class ServerError(AgentcellError):
    """A service failed (HTTP 5xx)."""

    code = "server-error"


class TransportError(AgentcellError, ConnectionError):
    """The message bus refused or failed (down, read-only); nothing was published."""

    code = "transport"


class ComponentTrap(AgentcellError, RuntimeError):
    """The component trapped (a bug, never control flow). The runtime has already
    replaced the instance, so the next call works; persisted data is untouched."""

    code = "trap"


class ResourceLimitError(ComponentTrap):
    """A call ran past a limit of its instance, and was stopped: `limit` is ``"time"``
    (the call deadline) or ``"memory"`` (the memory cap). As after any trap, the
    instance has been replaced and nothing persisted is lost."""

    code = "resource-limit"

    def __init__(self, message: str, *, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


class ComponentLoadError(AgentcellError, OSError):
    """The `.wasm` file is missing or is not a valid agentcell component."""

    code = "load"


_BY_CODE: dict[str, type[AgentcellError]] = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        NotFoundError,
        StorageError,
        HttpDeniedError,
        HttpTimeoutError,
        HttpError,
        InternalError,
        AuthenticationError,
        RateLimitedError,
        ServerError,
        TransportError,
    )
}


def error_from_wit(err: dict[str, object]) -> AgentcellError:
    """Turns a lifted WIT `types.error` record into the matching exception."""
    code = str(err.get("code", "internal"))
    field = err.get("field")
    cls = _BY_CODE.get(code, InternalError)
    error = cls(str(err.get("message", code)), field=field if isinstance(field, str) else None)
    retry_after_ms = err.get("retry_after_ms")
    if isinstance(error, RateLimitedError) and isinstance(retry_after_ms, int):
        error.retry_after = retry_after_ms / 1000
    return error
