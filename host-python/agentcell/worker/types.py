"""What a step handler is given and what it returns: `StepContext` and
`StepHandlerResult`, with the field names and helpers of tasker-core's Python worker
(plain dataclasses here, not pydantic models)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ErrorType", "ResultStatus", "StepContext", "StepHandlerResult"]


class ErrorType(str, enum.Enum):
    """The standard kinds of step failure (a handler may also name its own)."""

    PERMANENT_ERROR = "permanent_error"
    RETRYABLE_ERROR = "retryable_error"
    VALIDATION_ERROR = "validation_error"
    TIMEOUT = "timeout"
    HANDLER_ERROR = "handler_error"

    @classmethod
    def is_standard(cls, value: str) -> bool:
        """True when `value` is one of the standard kinds."""
        return value in {e.value for e in cls}

    @classmethod
    def is_typically_retryable(cls, value: str) -> bool:
        """True for the kinds that are usually worth a retry."""
        return value in (cls.RETRYABLE_ERROR.value, cls.TIMEOUT.value, cls.HANDLER_ERROR.value)


class ResultStatus(str, enum.Enum):
    """How a step ended, as its result records it."""

    SUCCESS = "completed"
    FAILURE = "error"
    RETRYABLE_ERROR = "retryable_error"
    PERMANENT_ERROR = "permanent_error"


@dataclass
class StepHandlerResult:
    """A handler's outcome: `result` on success; `error_message`, `error_type`,
    `error_code` and `retryable` on failure; `metadata` either way."""

    is_success: bool
    result: dict[str, Any] | None = None
    error_message: str | None = None
    error_type: str | None = None
    error_code: str | None = None
    retryable: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def success(
        cls, result: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None
    ) -> StepHandlerResult:
        """A successful outcome (`None` result: ``{}``)."""
        return cls(
            is_success=True, result=result if result is not None else {}, metadata=dict(metadata or {})
        )

    @classmethod
    def failure(
        cls,
        message: str,
        error_type: str | ErrorType = ErrorType.HANDLER_ERROR,
        retryable: bool = True,
        metadata: dict[str, Any] | None = None,
        error_code: str | None = None,
    ) -> StepHandlerResult:
        """A failed outcome; `retryable=False` fails the step at once."""
        kind = error_type.value if isinstance(error_type, ErrorType) else str(error_type)
        return cls(
            is_success=False,
            error_message=message,
            error_type=kind,
            error_code=error_code,
            retryable=retryable,
            metadata=dict(metadata or {}),
        )

    def is_success_result(self) -> bool:
        """True on success."""
        return self.is_success

    def is_failure_result(self) -> bool:
        """True on failure."""
        return not self.is_success

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data (``success`` as upstream's JSON names it)."""
        return {
            "success": self.is_success,
            "result": self.result,
            "error_message": self.error_message,
            "error_type": self.error_type,
            "error_code": self.error_code,
            "retryable": self.retryable,
            "metadata": self.metadata,
        }


@dataclass
class StepContext:
    """What a step's handler is given: the task's context (`input_data`), its
    ancestors' results (`dependency_results`, by step name), the step's handler
    configuration (`step_config`) and inputs, and which attempt this is."""

    task_uuid: uuid.UUID
    step_uuid: uuid.UUID
    handler_name: str
    input_data: dict[str, Any] = field(default_factory=dict)
    dependency_results: dict[str, Any] = field(default_factory=dict)
    step_config: dict[str, Any] = field(default_factory=dict)
    step_inputs: dict[str, Any] = field(default_factory=dict)
    retry_count: int = 0
    max_retries: int = 3
    correlation_id: uuid.UUID = field(default_factory=uuid.uuid4)
    step_name: str = ""

    def get_input(self, key: str) -> Any:
        """The task context's `key`, or None."""
        return self.input_data.get(key)

    def get_input_or(self, key: str, default: Any) -> Any:
        """The task context's `key`, or `default` when absent or None."""
        value = self.input_data.get(key)
        return default if value is None else value

    def get_config(self, key: str) -> Any:
        """The step's handler configuration `key` (the template's `initialization`), or None."""
        return self.step_config.get(key)

    def get_dependency_result(self, step_name: str) -> Any:
        """What step `step_name` returned, or None: a recorded ``{"result": value}``
        envelope is unwrapped to `value`."""
        value = self.dependency_results.get(step_name)
        if isinstance(value, dict) and "result" in value:
            return value["result"]
        return value

    def get_dependency_field(self, step_name: str, *path: str | int) -> Any:
        """A field deep in a dependency's result (`path` of keys or indexes), or None."""
        value = self.get_dependency_result(step_name)
        for part in path:
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                return None
        return value

    def get_dependency_result_keys(self) -> list[str]:
        """The names of the steps whose results are at hand."""
        return list(self.dependency_results)

    def get_all_dependency_results(self, prefix: str) -> list[Any]:
        """The results of every dependency whose name starts with `prefix`, in name order."""
        return [
            self.get_dependency_result(k) for k in sorted(self.dependency_results) if k.startswith(prefix)
        ]

    def is_retry(self) -> bool:
        """True when an earlier attempt failed."""
        return self.retry_count > 0

    def is_last_retry(self) -> bool:
        """True when this is the last attempt the step has."""
        return self.retry_count >= self.max_retries - 1
