"""The client's answers: upstream's response models (`TaskResponse`, `StepResponse`,
`StepAuditResponse`) as dicts whose keys also read as attributes, so code written for
either style (`task.status`, `task["status"]`, `task.model_dump()`) works."""

from __future__ import annotations

from typing import Any

__all__ = ["StepAuditResponse", "StepResponse", "TaskListResponse", "TaskResponse"]


class _Record(dict[str, Any]):
    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}") from None

    def model_dump(self) -> dict[str, Any]:
        """The fields as a plain dict (pydantic's name for it)."""
        return dict(self)


class StepResponse(_Record):
    """One workflow step: `step_uuid`, `name`, `current_state`, `attempts`,
    `max_attempts`, `results`, `dependencies_satisfied`, `ready_for_execution`, times..."""


class StepAuditResponse(_Record):
    """One transition of a step: `from_state`, `to_state`, `recorded_at`, `worker_uuid`,
    `attempt`, `success`, `result`, `error`, `execution_time_ms`."""


class TaskResponse(_Record):
    """A task: `task_uuid`, `name`, `namespace`, `version`, `status`, `context`, step
    counts, `completion_percentage`, `execution_status`, and `steps` (`StepResponse`)."""

    @classmethod
    def of(cls, data: dict[str, Any]) -> TaskResponse:
        task = cls(data)
        task["steps"] = [StepResponse(s) for s in data.get("steps", [])]
        return task


class TaskListResponse(_Record):
    """`tasks` (`TaskResponse`) and `pagination` (`page`, `per_page`, `total_count`,
    `total_pages`, `has_next`, `has_previous`)."""
