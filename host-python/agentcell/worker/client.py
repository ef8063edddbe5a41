"""`TaskerClient`: tasks made from templates, looked at and cancelled, with the
methods, arguments and answers of upstream's `tasker_core.TaskerClient`, on agentcell's
engine (WIT `workflows`) instead of upstream's orchestration server.

    client = TaskerClient(storage="sqlite:///tasks.db")
    client.register_template("templates/diamond.yaml")
    task = client.create_task("diamond_workflow", namespace="examples", context={"even_number": 6})
    client.get_task(task.task_uuid).status        # "complete" once workers ran it

Templates are also loaded, as upstream does, from the directory named by
`TASKER_TEMPLATE_PATH` (`*.yaml`, `*.yml`, `*.json`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from .._twins import async_twin
from .._wasm import Runtime
from ..errors import InvalidArgumentError
from ._records import StepAuditResponse, StepResponse, TaskListResponse, TaskResponse
from ._storage_url import open_runtime

__all__ = ["AsyncTaskerClient", "TaskerClient", "load_templates"]

TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json")
#: Task states after which nothing more happens (upstream's terminal states).
FINAL_STATES = frozenset({"complete", "error", "cancelled", "resolved_manually"})


def _template_text(template: str | Path | Mapping[str, Any]) -> str:
    if isinstance(template, Mapping):
        return json.dumps(dict(template))
    path = Path(template)
    if not path.is_file():
        raise InvalidArgumentError(f"template: {str(path)!r} is not a file", field="template")
    return path.read_text(encoding="utf-8")


def load_templates(runtime: Runtime, directory: str | Path | None = None) -> int:
    """Registers every template file in `directory` (default: `TASKER_TEMPLATE_PATH`,
    nothing when unset); returns how many."""
    where = directory if directory is not None else os.environ.get("TASKER_TEMPLATE_PATH")
    if not where:
        return 0
    root = Path(where)
    if not root.is_dir():
        raise InvalidArgumentError(f"TASKER_TEMPLATE_PATH: {str(root)!r} is not a directory")
    files = sorted(p for p in root.rglob("*") if p.suffix in TEMPLATE_SUFFIXES and p.is_file())
    for file in files:
        runtime.exports.workflows.register_template(file.read_text(encoding="utf-8"))
    return len(files)


class TaskerClient:
    """Creates and inspects tasks kept in `storage` (see `agentcell.worker` for the URL
    forms; `None` is the default data file). Errors are agentcell's: a bad argument is
    `InvalidArgumentError` (a `ValueError`) naming it, an unknown task or template
    `NotFoundError` (a `KeyError`)."""

    def __init__(
        self,
        initiator: str = "tasker-core-python",
        source_system: str = "tasker-core",
        *,
        storage: str | Path | None = None,
        runtime: Runtime | None = None,
        template_path: str | Path | None = None,
    ) -> None:
        self.initiator = initiator
        self.source_system = source_system
        self._owns_runtime = runtime is None
        self.runtime = runtime or open_runtime(storage)
        self._wf = self.runtime.exports.workflows
        load_templates(self.runtime, template_path)

    def close(self) -> None:
        """Closes the storage this client opened."""
        if self._owns_runtime:
            self.runtime.close()

    def __enter__(self) -> TaskerClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- templates

    def register_template(self, template: str | Path | Mapping[str, Any]) -> dict[str, Any]:
        """Registers a template from a YAML or JSON file, or a dict; returns it as stored."""
        stored: dict[str, Any] = json.loads(self._wf.register_template(_template_text(template)))
        return stored

    def list_templates(self) -> list[dict[str, Any]]:
        """The registered templates."""
        templates: list[dict[str, Any]] = json.loads(self._wf.list_templates())
        return templates

    # --- tasks

    def create_task(
        self,
        name: str,
        *,
        namespace: str = "default",
        context: dict[str, Any] | None = None,
        version: str = "1.0.0",
        reason: str = "Task requested",
        **kwargs: Any,
    ) -> TaskResponse:
        """A new task from template `namespace/name` at `version`, with `context` as its
        input; its first steps are due at once. Extra keywords (`priority`, `tags`,
        `correlation_id`) are kept with the task."""
        request = {
            "name": name,
            "namespace": namespace,
            "version": version,
            "context": {} if context is None else context,
            "initiator": kwargs.pop("initiator", self.initiator),
            "source_system": kwargs.pop("source_system", self.source_system),
            "reason": reason,
            **kwargs,
        }
        try:
            text = json.dumps(request, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise InvalidArgumentError(f"context: is not JSON ({e})", field="context") from e
        return TaskResponse.of(json.loads(self._wf.create_task(text)))

    def get_task(self, task_uuid: str) -> TaskResponse:
        """The task, with its steps."""
        return TaskResponse.of(json.loads(self._wf.get_task(str(task_uuid))))

    def list_tasks(
        self, *, limit: int = 50, offset: int = 0, namespace: str | None = None, status: str | None = None
    ) -> TaskListResponse:
        """Tasks newest first, filtered by namespace and status, one page of `limit`."""
        for field, value in (("limit", limit), ("offset", offset)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
                raise InvalidArgumentError(f"{field}: must be a non-negative int, got {value!r}", field=field)
        query = {"limit": limit, "offset": offset, "namespace": namespace, "status": status}
        page = json.loads(self._wf.list_tasks(json.dumps(query)))
        return TaskListResponse(
            tasks=[TaskResponse.of(t) for t in page["tasks"]], pagination=page["pagination"]
        )

    def cancel_task(self, task_uuid: str) -> dict[str, Any]:
        """Cancels the task and its steps not yet ended; returns the task."""
        task: dict[str, Any] = TaskResponse.of(json.loads(self._wf.cancel_task(str(task_uuid))))
        return task

    def list_task_steps(self, task_uuid: str) -> list[StepResponse]:
        """The task's steps, in template order."""
        return [StepResponse(s) for s in json.loads(self._wf.list_steps(str(task_uuid)))]

    def get_step(self, task_uuid: str, step_uuid: str) -> StepResponse:
        """One step of a task."""
        for step in self.list_task_steps(task_uuid):
            if step["step_uuid"] == str(step_uuid):
                return step
        from ..errors import NotFoundError

        raise NotFoundError(f"task {task_uuid} has no step {step_uuid}", field="step_uuid")

    def get_step_audit_history(self, task_uuid: str, step_uuid: str) -> list[StepAuditResponse]:
        """Every transition of the step, oldest first."""
        entries = json.loads(self._wf.step_audit(str(task_uuid), str(step_uuid)))
        return [StepAuditResponse(a) for a in entries]

    def resolve_step_manually(
        self, task_uuid: str, step_uuid: str, action: Mapping[str, Any]
    ) -> StepResponse:
        """An operator's action on a step, upstream's `StepManualAction` (the body of
        `PATCH /v1/tasks/{task}/workflow_steps/{step}`): `action_type` is
        `reset_for_retry` (with `reason`, `reset_by`), `resolve_manually` (`reason`,
        `resolved_by`) or `complete_manually` (`completion_data: {result, metadata}`,
        `reason`, `completed_by`). Returns the step after it; an action the step's
        state does not allow is a `ValidationError` naming `action_type`."""
        if not isinstance(action, Mapping):
            raise TypeError(f"action must be a mapping, got {type(action).__name__}")
        text = json.dumps(dict(action))
        return StepResponse(json.loads(self._wf.act_on_step(str(task_uuid), str(step_uuid), text)))

    def reset_step_for_retry(
        self, task_uuid: str, step_uuid: str, *, reason: str, reset_by: str
    ) -> StepResponse:
        """A step in `error` back to `pending` with its attempts reset: it runs again."""
        action = {"action_type": "reset_for_retry", "reason": reason, "reset_by": reset_by}
        return self.resolve_step_manually(task_uuid, step_uuid, action)

    def resolve_step(self, task_uuid: str, step_uuid: str, *, reason: str, resolved_by: str) -> StepResponse:
        """The step `resolved_manually`, without a result; its dependents may run."""
        action = {"action_type": "resolve_manually", "reason": reason, "resolved_by": resolved_by}
        return self.resolve_step_manually(task_uuid, step_uuid, action)

    def complete_step_manually(
        self,
        task_uuid: str,
        step_uuid: str,
        result: Any,
        *,
        reason: str,
        completed_by: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> StepResponse:
        """The step `complete` with `result`, which its dependents read as a handler's."""
        action = {
            "action_type": "complete_manually",
            "completion_data": {"result": result, "metadata": dict(metadata or {})},
            "reason": reason,
            "completed_by": completed_by,
        }
        return self.resolve_step_manually(task_uuid, step_uuid, action)

    def wait_for_task(self, task_uuid: str, timeout: float = 30.0, poll: float = 0.02) -> TaskResponse:
        """The task once it has ended (complete, error, cancelled); `TimeoutError` when
        it has not within `timeout` seconds. (Not in upstream's client: its server
        pushes events instead.)"""
        deadline = time.monotonic() + timeout
        while True:
            task = self.get_task(task_uuid)
            if task["status"] in FINAL_STATES:
                return task
            if time.monotonic() >= deadline:
                raise TimeoutError(f"task {task_uuid} is still {task['status']} after {timeout} s")
            time.sleep(poll)

    def health_check(self) -> dict[str, Any]:
        """`{"status": "healthy", ...}` when the engine answers (it reads the storage)."""
        self._wf.next_due_in()
        return {"status": "healthy", "healthy": True, "engine": "agentcell"}


class AsyncTaskerClient(TaskerClient):
    """`TaskerClient` whose `*_async` methods run in a thread, for asyncio programs."""

    register_template_async = async_twin(TaskerClient.register_template)
    create_task_async = async_twin(TaskerClient.create_task)
    get_task_async = async_twin(TaskerClient.get_task)
    list_tasks_async = async_twin(TaskerClient.list_tasks)
    cancel_task_async = async_twin(TaskerClient.cancel_task)
    list_task_steps_async = async_twin(TaskerClient.list_task_steps)
    get_step_audit_history_async = async_twin(TaskerClient.get_step_audit_history)
    resolve_step_manually_async = async_twin(TaskerClient.resolve_step_manually)
    reset_step_for_retry_async = async_twin(TaskerClient.reset_step_for_retry)
    resolve_step_async = async_twin(TaskerClient.resolve_step)
    complete_step_manually_async = async_twin(TaskerClient.complete_step_manually)
    wait_for_task_async = async_twin(TaskerClient.wait_for_task)
