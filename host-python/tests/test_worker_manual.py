"""An operator's actions on steps (upstream's `StepManualAction`): reset a failed step
for retry, resolve it by hand, complete it with a result; through `TaskerClient` with a
real worker, and over `agentcell serve`'s `PATCH /v1/tasks/{task}/workflow_steps/{step}`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentcell import InvalidArgumentError as ValidationError
from agentcell._wasm import Runtime
from agentcell.worker import (
    AsyncTaskerClient,
    HandlerRegistry,
    PermanentError,
    StepContext,
    TaskerClient,
    Worker,
    step_handler,
)

from .conftest import Server

CHAIN = {
    "name": "chain",
    "namespace_name": "ops",
    "steps": [
        {"name": "fetch", "handler": {"callable": "flaky_fetch"}},
        {"name": "report", "handler": {"callable": "report"}, "dependencies": ["fetch"]},
    ],
}

SOURCE_UP = {"up": False}


@step_handler("flaky_fetch")
def flaky_fetch() -> dict[str, Any]:
    if not SOURCE_UP["up"]:
        raise PermanentError("the source refused the credentials")
    return {"rows": 3}


@step_handler("report")
def report(context: StepContext) -> dict[str, Any]:
    fetched = context.get_dependency_result("fetch")
    return {"rows": None if fetched is None else fetched["rows"]}


@pytest.fixture
def client() -> Iterator[AsyncTaskerClient]:
    SOURCE_UP["up"] = False
    registry = HandlerRegistry()
    registry.register("flaky_fetch", flaky_fetch._handler_class)  # type: ignore[attr-defined]
    registry.register("report", report._handler_class)  # type: ignore[attr-defined]
    with AsyncTaskerClient(runtime=Runtime(":memory:")) as c:
        c.register_template(CHAIN)
        with Worker(registry, runtime=c.runtime, poll_interval=0.01, worker_id="w1"):
            yield c


def failed_task(client: TaskerClient) -> tuple[str, dict[str, str]]:
    task = client.create_task("chain", namespace="ops")
    done = client.wait_for_task(task.task_uuid, timeout=20)
    assert done.status == "error", done
    steps = {s["name"]: s["step_uuid"] for s in client.list_task_steps(task.task_uuid)}
    return task.task_uuid, steps


def test_a_failed_step_reset_for_retry_runs_again_and_the_task_completes(client: AsyncTaskerClient) -> None:
    uuid, steps = failed_task(client)
    SOURCE_UP["up"] = True  # the operator fixed the cause
    step = client.reset_step_for_retry(
        uuid, steps["fetch"], reason="credentials rotated", reset_by="ops@example.com"
    )
    assert step["current_state"] in ("pending", "in_progress", "complete") and step["attempts"] <= 1
    done = client.wait_for_task(uuid, timeout=20)
    assert done.status == "complete", done
    assert done.steps[1].results["result"]["rows"] == 3
    audit = client.get_step_audit_history(uuid, steps["fetch"])
    manual = [a for a in audit if (a["result"] or {}).get("manual_action")]
    assert len(manual) == 1
    assert (manual[0]["from_state"], manual[0]["to_state"]) == ("error", "pending")
    assert manual[0]["worker_uuid"] == "ops@example.com"
    assert manual[0]["result"]["manual_action"]["reason"] == "credentials rotated"
    assert [a["to_state"] for a in audit][-1] == "complete"


def test_complete_manually_hands_the_operators_result_to_dependents(client: AsyncTaskerClient) -> None:
    uuid, steps = failed_task(client)
    client.complete_step_manually(
        uuid,
        steps["fetch"],
        {"rows": 42},
        reason="loaded by hand",
        completed_by="ops",
        metadata={"ticket": 7},
    )
    done = client.wait_for_task(uuid, timeout=20)
    assert done.status == "complete"
    report_step = next(s for s in done.steps if s.name == "report")
    assert report_step.results["result"]["rows"] == 42


def test_resolve_manually_lets_the_rest_run_and_the_task_ends_resolved(client: AsyncTaskerClient) -> None:
    uuid, steps = failed_task(client)

    async def resolve() -> Any:
        return await client.resolve_step_async(
            uuid, steps["fetch"], reason="not needed today", resolved_by="ops"
        )

    assert asyncio.run(resolve())["current_state"] == "resolved_manually"
    done = client.wait_for_task(uuid, timeout=20)
    assert done.status == "resolved_manually"
    report_step = next(s for s in done.steps if s.name == "report")
    assert report_step.current_state == "complete" and report_step.results["result"]["rows"] is None


def test_actions_the_step_does_not_allow_are_typed_and_change_nothing(client: AsyncTaskerClient) -> None:
    uuid, steps = failed_task(client)
    before = client.get_task(uuid)
    with pytest.raises(ValidationError, match="reset_for_retry applies to a step in error") as e:
        client.reset_step_for_retry(uuid, steps["report"], reason="r", reset_by="ops")
    assert e.value.field == "action_type"
    with pytest.raises(ValidationError) as e:
        client.resolve_step_manually(uuid, steps["fetch"], {"action_type": "delete", "reason": "r"})
    assert e.value.field == "action"
    with pytest.raises(ValidationError) as e:
        client.resolve_step(uuid, steps["fetch"], reason="", resolved_by="ops")
    assert e.value.field == "reason"
    with pytest.raises(TypeError):
        client.resolve_step_manually(uuid, steps["fetch"], "resolve_manually")  # type: ignore[arg-type]
    after = client.get_task(uuid)
    assert after.status == before.status == "error"
    assert [s.current_state for s in after.steps] == [s.current_state for s in before.steps]


def test_patch_workflow_step_over_http(tmp_path: Path) -> None:
    srv = Server(tmp_path / "served")
    try:
        status, _, _ = srv.request("POST", "/v1/templates", CHAIN)
        assert status == 201
        status, task, _ = srv.request("POST", "/v1/tasks", {"name": "chain", "namespace": "ops"})
        uuid = task["task_uuid"]
        steps = {s["name"]: s["step_uuid"] for s in srv.request("GET", f"/v1/tasks/{uuid}/workflow_steps")[1]}
        body = {
            "action_type": "complete_manually",
            "completion_data": {"result": {"rows": 5}},
            "reason": "imported by hand",
            "completed_by": "ops@example.com",
        }
        status, step, _ = srv.request("PATCH", f"/v1/tasks/{uuid}/workflow_steps/{steps['fetch']}", body)
        assert status == 200 and step["current_state"] == "complete", step
        assert step["results"]["result"] == {"rows": 5}
        resolve = {"action_type": "resolve_manually", "reason": "skip", "resolved_by": "ops"}
        status, step, _ = srv.request("PATCH", f"/v1/tasks/{uuid}/workflow_steps/{steps['report']}", resolve)
        assert status == 200 and step["current_state"] == "resolved_manually"
        assert srv.request("GET", f"/v1/tasks/{uuid}")[1]["status"] == "resolved_manually"
        status, err, _ = srv.request("PATCH", f"/v1/tasks/{uuid}/workflow_steps/{steps['report']}", resolve)
        assert status == 400 and err["error"]["field"] == "action_type", err
        status, err, _ = srv.request("PATCH", f"/v1/tasks/{uuid}/workflow_steps/{steps['report']}", {"x": 1})
        assert status == 400 and err["error"]["field"] == "action"
    finally:
        srv.stop()
