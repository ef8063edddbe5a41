"""Workflow steps written in Python, with the handler API of tasker-core's Python
worker (`tasker_core`): class handlers (`StepHandler`), function handlers
(`@step_handler`, `@depends_on`, `@inputs`, `@decision_handler`), the context and result
types, the error hierarchy and its retry rules, and the registry.

The engine that runs them (templates, leases, retries, the worker process) is being
built in the component on the AI Spine DAG engine (issue 16); `run_step` runs one
handler on one context today.
"""

from __future__ import annotations

from .errors import (
    AuthenticationError,
    AuthorizationError,
    BusinessLogicError,
    ConfigurationError,
    ErrorClassifier,
    NetworkError,
    NotFoundError,
    PermanentError,
    RateLimitError,
    ResourceContentionError,
    RetryableError,
    ServiceUnavailableError,
    TaskerError,
    TimeoutError,
    ValidationError,
    get_classifier,
    is_permanent,
    is_retryable,
)
from .functional import Decision, DecisionPointOutcome, decision_handler, depends_on, inputs, step_handler
from .handler import HandlerRegistry, StepHandler, run_step
from .types import ErrorType, ResultStatus, StepContext, StepHandlerResult

#: Upstream's package exports these two under step-specific names.
StepTimeoutError = TimeoutError
StepValidationError = ValidationError

__all__ = [
    "AuthenticationError",
    "AuthorizationError",
    "BusinessLogicError",
    "ConfigurationError",
    "Decision",
    "DecisionPointOutcome",
    "ErrorClassifier",
    "ErrorType",
    "HandlerRegistry",
    "NetworkError",
    "NotFoundError",
    "PermanentError",
    "RateLimitError",
    "ResourceContentionError",
    "ResultStatus",
    "RetryableError",
    "ServiceUnavailableError",
    "StepContext",
    "StepHandler",
    "StepHandlerResult",
    "StepTimeoutError",
    "StepValidationError",
    "TaskerError",
    "TimeoutError",
    "ValidationError",
    "decision_handler",
    "depends_on",
    "get_classifier",
    "inputs",
    "is_permanent",
    "is_retryable",
    "run_step",
    "step_handler",
]
