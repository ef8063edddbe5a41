"""Workflow steps written in Python, with the handler API of tasker-core's Python
worker (`tasker_core`): class handlers (`StepHandler`), function handlers
(`@step_handler`, `@depends_on`, `@inputs`, `@decision_handler`), the context and result
types, the error hierarchy and its retry rules, and the registry.

The engine that runs them is in the component (WIT `workflows`): task templates in
upstream's YAML shape, tasks and their steps through upstream's state machines, claims
by lease, retries with backoff, an audit of every transition. `TaskerClient` creates and
inspects tasks; `Worker` (or `python -m agentcell.worker --handlers PKG --storage URL`)
runs their steps, in as many processes as share the storage.
"""

from __future__ import annotations

from ._records import StepAuditResponse, StepResponse, TaskListResponse, TaskResponse
from .batch import Batchable, BatchConfig, BatchWorkerContext, CursorConfig, batch_analyzer, batch_worker
from .client import AsyncTaskerClient, TaskerClient, load_templates
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
from .runner import Worker, WorkerMetrics
from .types import ErrorType, ResultStatus, StepContext, StepHandlerResult

#: Upstream's package exports these two under step-specific names.
StepTimeoutError = TimeoutError
StepValidationError = ValidationError

__all__ = [
    "AsyncTaskerClient",
    "AuthenticationError",
    "AuthorizationError",
    "BatchConfig",
    "BatchWorkerContext",
    "Batchable",
    "BusinessLogicError",
    "ConfigurationError",
    "CursorConfig",
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
    "StepAuditResponse",
    "StepContext",
    "StepHandler",
    "StepHandlerResult",
    "StepResponse",
    "StepTimeoutError",
    "StepValidationError",
    "TaskListResponse",
    "TaskResponse",
    "TaskerClient",
    "TaskerError",
    "TimeoutError",
    "ValidationError",
    "Worker",
    "WorkerMetrics",
    "batch_analyzer",
    "batch_worker",
    "decision_handler",
    "depends_on",
    "get_classifier",
    "inputs",
    "is_permanent",
    "is_retryable",
    "load_templates",
    "run_step",
    "step_handler",
]
