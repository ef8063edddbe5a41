"""The step error hierarchy of tasker-core's Python worker, and the rules that decide
whether a failed step is tried again.

`PermanentError` and its subclasses fail a step at once; `RetryableError` and its
subclasses (and, by default, anything else) let it be retried up to its max attempts.
Unlike upstream, where a class handler's raised `PermanentError` was retried anyway,
agentcell applies these rules to class and function handlers alike.
"""

from __future__ import annotations

import builtins
from typing import Any

from ..errors import AgentcellError

__all__ = [
    "AuthenticationError",
    "AuthorizationError",
    "BusinessLogicError",
    "ConfigurationError",
    "ErrorClassifier",
    "NetworkError",
    "NotFoundError",
    "PermanentError",
    "RateLimitError",
    "ResourceContentionError",
    "RetryableError",
    "ServiceUnavailableError",
    "TaskerError",
    "TimeoutError",
    "ValidationError",
    "get_classifier",
    "is_permanent",
    "is_retryable",
]


class TaskerError(AgentcellError):
    """Root of the step errors a handler raises.

    `retryable` overrides the class's default; `error_code` and `retry_after` (seconds)
    are copied into `metadata`, and `context` is merged into it.
    """

    retryable: bool = True

    def __init__(
        self,
        message: str,
        *,
        retryable: bool | None = None,
        metadata: dict[str, Any] | None = None,
        error_code: str | None = None,
        retry_after: float | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable
        self.error_code = error_code
        self.retry_after = retry_after
        self.metadata: dict[str, Any] = dict(metadata or {})
        if error_code is not None:
            self.metadata["error_code"] = error_code
        if retry_after is not None:
            self.metadata["retry_after"] = retry_after
        self.metadata.update(context or {})

    def to_dict(self) -> dict[str, Any]:
        """``{error_type, message, retryable, metadata}``: the error as a step result records it."""
        return {
            "error_type": type(self).__name__,
            "message": self.message,
            "retryable": self.retryable,
            "metadata": dict(self.metadata),
        }


class RetryableError(TaskerError):
    """A failure worth trying again (the step is retried up to its max attempts)."""

    retryable = True


class TimeoutError(RetryableError, builtins.TimeoutError):
    """The step's work took too long."""


class NetworkError(RetryableError, ConnectionError):
    """A network call failed."""


class RateLimitError(RetryableError):
    """A service asked to slow down; `retry_after` says for how long."""


class ServiceUnavailableError(RetryableError):
    """A service the step depends on is down for now."""


class ResourceContentionError(RetryableError):
    """A lock or resource was busy."""


class PermanentError(TaskerError):
    """A failure that trying again cannot fix: the step fails at once."""

    retryable = False


class ValidationError(PermanentError, ValueError):
    """The step's input broke a rule."""


class NotFoundError(PermanentError, LookupError):
    """Something the step needs does not exist."""

    def __str__(self) -> str:
        return self.message


class AuthenticationError(PermanentError, PermissionError):
    """Credentials were missing or wrong."""


class AuthorizationError(PermanentError, PermissionError):
    """The credentials do not allow this."""


class ConfigurationError(PermanentError):
    """The step or its handler is configured wrongly."""


class BusinessLogicError(PermanentError):
    """A rule of the business refused the work."""


# Builtin exceptions that retrying cannot fix: programming and data errors.
_PERMANENT_BUILTINS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    IndexError,
    AssertionError,
    SyntaxError,
    NameError,
    ImportError,
    NotImplementedError,
)
# Builtin exceptions of a passing condition: the network, time, the OS.
_RETRYABLE_BUILTINS: tuple[type[BaseException], ...] = (
    ConnectionError,
    BrokenPipeError,
    builtins.TimeoutError,
    BlockingIOError,
    InterruptedError,
    OSError,
)


class ErrorClassifier:
    """Decides whether an exception is worth a retry, in this order: the exception's
    own `retryable` attribute; the permanent builtins (ValueError, TypeError, KeyError,
    AttributeError, IndexError, AssertionError, SyntaxError, NameError, ImportError,
    NotImplementedError): no; the passing ones (ConnectionError, BrokenPipeError,
    TimeoutError, BlockingIOError, InterruptedError, OSError): yes; else
    `default_retryable`."""

    def __init__(self, default_retryable: bool = True) -> None:
        self.default_retryable = default_retryable

    def retryable(self, exc: BaseException) -> bool:
        """True when a step failing with `exc` should be tried again."""
        own = getattr(exc, "retryable", None)
        if isinstance(own, bool):
            return own
        if isinstance(exc, _PERMANENT_BUILTINS):
            return False
        if isinstance(exc, _RETRYABLE_BUILTINS):
            return True
        return self.default_retryable

    def permanent(self, exc: BaseException) -> bool:
        """True when a step failing with `exc` must not be tried again."""
        return not self.retryable(exc)

    def classify(self, exc: BaseException) -> dict[str, Any]:
        """``{error_type, retryable, classification}`` for `exc`."""
        retryable = self.retryable(exc)
        return {
            "error_type": type(exc).__name__,
            "retryable": retryable,
            "classification": "retryable" if retryable else "permanent",
        }


_DEFAULT = ErrorClassifier()


def get_classifier() -> ErrorClassifier:
    """The shared classifier (retryable by default)."""
    return _DEFAULT


def is_retryable(exc: BaseException) -> bool:
    """`get_classifier().retryable(exc)`."""
    return _DEFAULT.retryable(exc)


def is_permanent(exc: BaseException) -> bool:
    """`get_classifier().permanent(exc)`."""
    return _DEFAULT.permanent(exc)
