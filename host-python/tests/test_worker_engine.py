"""The workflow engine through `TaskerClient` and an in-process `Worker`: templates,
results flowing along the DAG, every error kind, retries, decisions, cancel, listings,
late results rejected."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentcell import AgentcellError, InvalidArgumentError, NotFoundError
from agentcell._wasm import Runtime
from agentcell.storage import SQLiteStorage
from agentcell.worker import HandlerRegistry, TaskerClient, Worker

TEMPLATES = Path(__file__).parent / "worker_templates"


def one_step(name: str, handler: str, **retry: Any) -> dict[str, Any]:
    step: dict[str, Any] = {"name": "only", "handler": {"callable": handler}}
    step["retry"] = {"backoff_base_ms": 10, **retry}
    return {"name": name, "namespace_name": "t", "steps": [step]}


@pytest.fixture
def registry() -> HandlerRegistry:
    r = HandlerRegistry()
    r.discover_handlers("tests.worker_handlers")
    r.discover_handlers("tests.worker_extra")
    return r


@pytest.fixture
def client() -> Iterator[TaskerClient]:
    with TaskerClient(runtime=Runtime(":memory:")) as c:
        yield c


@pytest.fixture
def worker(client: TaskerClient, registry: HandlerRegistry) -> Iterator[Worker]:
    with Worker(registry, runtime=client.runtime, poll_interval=0.01, worker_id="w1") as w:
        yield w


def run(client: TaskerClient, template: dict[str, Any], context: dict[str, Any]) -> Any:
    client.register_template(template)
    task = client.create_task(template["name"], namespace="t", context=context)
    return client.wait_for_task(task.task_uuid, timeout=20)


def test_upstreams_diamond_template_runs_to_its_result(client: TaskerClient, worker: Worker) -> None:
    client.register_template(TEMPLATES / "diamond.yaml")
    task = client.create_task("diamond_workflow", namespace="diamond_workflow", context={"even_number": 6})
    assert task.status == "steps_in_process" and task.total_steps == 4 and task.ready_steps == 1
    done = client.wait_for_task(task.task_uuid)
    assert done.status == "complete" and done.completion_percentage == 100.0
    results = {s.name: s.results["result"] for s in done.steps}
    assert results == {
        "diamond_start_py": {"result": 36},
        "diamond_branch_b_py": {"result": 61},
        "diamond_branch_c_py": {"result": 72},
        "diamond_end_py": {"result": 66.5},
    }
    states = [t["to_state"] for t in done["transitions"]]
    assert states == ["initializing", "enqueuing_steps", "steps_in_process", "complete"]
    end = done.steps[3]
    audit = client.get_step_audit_history(done.task_uuid, end.step_uuid)
    assert [(a.from_state, a.to_state, a.worker_uuid) for a in audit] == [
        ("pending", "in_progress", "w1"),
        ("in_progress", "complete", "w1"),
    ]
    assert worker.get_metrics()["steps_succeeded"] == 4


@pytest.mark.usefixtures("worker")
def test_an_odd_number_fails_the_first_step_for_good(client: TaskerClient) -> None:
    client.register_template(TEMPLATES / "diamond.yaml")
    task = client.create_task("diamond_workflow", namespace="diamond_workflow", context={"even_number": 7})
    done = client.wait_for_task(task.task_uuid)
    start = done.steps[0]
    assert (done.status, start.current_state, start.attempts) == ("error", "error", 1)
    assert [s.current_state for s in done.steps[1:]] == ["pending"] * 3
    audit = client.get_step_audit_history(done.task_uuid, start.step_uuid)
    assert audit[-1].error == "validation_error: even_number must be even"


@pytest.mark.parametrize(
    ("kind", "attempts", "error"),
    [
        ("permanent", 1, "permanent_error: nope"),
        ("value", 1, "handler_error: bad value"),  # the classifier: ValueError is permanent
        ("failure", 1, "validation_error: told to fail"),
        ("retryable", 3, "retryable_error: later"),
        ("connection", 3, "handler_error: refused"),  # ConnectionError is retried
    ],
)
@pytest.mark.usefixtures("worker")
def test_each_error_kind_is_retried_or_not_by_upstreams_rules(
    client: TaskerClient, kind: str, attempts: int, error: str
) -> None:
    done = run(client, one_step(f"raise_{kind}", "raises", max_attempts=3), {"raise": kind})
    step = done.steps[0]
    assert (done.status, step.current_state, step.attempts) == ("error", "error", attempts)
    audit = client.get_step_audit_history(done.task_uuid, step.step_uuid)
    assert audit[-1].error == error
    retries = [a for a in audit if a.to_state == "waiting_for_retry"]
    assert len(retries) == attempts - 1


@pytest.mark.usefixtures("worker")
def test_a_run_longer_than_timeout_seconds_fails_on_time_and_is_retried(client: TaskerClient) -> None:
    template = one_step("slow", "sleepy", max_attempts=2)
    template["steps"][0]["timeout_seconds"] = 1
    started = time.monotonic()
    done = run(client, template, {"sleep": 4})
    took = time.monotonic() - started
    step = done.steps[0]
    assert (done.status, step.current_state, step.attempts) == ("error", "error", 2)
    assert took < 3.5, f"two 1 s limits took {took:.1f} s: the handler's 4 s were waited for"
    audit = client.get_step_audit_history(done.task_uuid, step.step_uuid)
    errors = [a.error for a in audit if a.error]
    assert errors == ["timeout: the step ran longer than its timeout_seconds (1 s)"] * 2, errors
    quick = run(client, {**one_step("quick", "sleepy"), "name": "quick"}, {"sleep": 0})
    assert quick.status == "complete"
    with pytest.raises(InvalidArgumentError, match="timeout_seconds"):
        bad = one_step("zero", "sleepy")
        bad["steps"][0]["timeout_seconds"] = 0
        client.register_template(bad)


@pytest.mark.usefixtures("worker")
def test_a_retryable_error_succeeds_on_a_later_attempt_after_backoff(client: TaskerClient) -> None:
    template = one_step("flaky", "raises", max_attempts=4, backoff="linear", backoff_base_ms=60)
    done = run(client, template, {"raise": "retryable", "until": 3})
    step = done.steps[0]
    assert (done.status, step.attempts, step.results["result"]) == ("complete", 3, {"attempts": 3})
    audit = client.get_step_audit_history(done.task_uuid, step.step_uuid)
    starts = [a.recorded_at for a in audit if a.to_state == "in_progress"]
    assert len(starts) == 3
    # The second wait (linear: 2 x 60 ms, +-10%) is longer than the first (60 ms).
    from datetime import datetime

    t = [datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() for s in starts]
    assert t[1] - t[0] >= 0.05 and t[2] - t[1] >= 0.1


@pytest.mark.usefixtures("worker")
def test_async_handlers_and_decisions(client: TaskerClient) -> None:
    done = run(client, one_step("async", "async_double"), {"n": 21})
    assert done.steps[0].results["result"] == {"value": 42}
    routed = {
        "name": "routed",
        "namespace_name": "t",
        "steps": [
            {"name": "decide", "type": "decision", "handler": {"callable": "route_by_size"}},
            {"name": "small", "handler": {"callable": "label"}, "dependencies": ["decide"]},
            {"name": "large", "handler": {"callable": "label"}, "dependencies": ["decide"]},
            {
                "name": "join",
                "type": "deferred_convergence",
                "handler": {"callable": "label"},
                "dependencies": ["small", "large"],
            },
        ],
    }
    done = run(client, routed, {"size": 3})
    states = {s.name: s.current_state for s in done.steps}
    assert done.status == "complete"
    assert states == {"decide": "complete", "small": "complete", "large": "cancelled", "join": "complete"}
    assert done.total_steps == 3  # the branch not chosen is not counted


@pytest.mark.usefixtures("worker")
def test_an_unknown_handler_fails_its_step_with_handler_not_found(client: TaskerClient) -> None:
    done = run(client, one_step("ghost", "no_such_handler"), {})
    audit = client.get_step_audit_history(done.task_uuid, done.steps[0].step_uuid)
    assert (
        done.status == "error" and audit[-1].error == "handler_not_found: Handler not found: no_such_handler"
    )


def test_bad_templates_and_requests_are_typed_errors(client: TaskerClient) -> None:
    cycle = {
        "name": "cyc",
        "steps": [
            {"name": "a", "handler": {"callable": "noop"}, "dependencies": ["b"]},
            {"name": "b", "handler": {"callable": "noop"}, "dependencies": ["a"]},
        ],
    }
    with pytest.raises(InvalidArgumentError, match="dependency cycle: a -> b -> a") as e:
        client.register_template(cycle)
    assert e.value.field == "steps.a"
    unknown = {"name": "u", "steps": [{"name": "a", "handler": {"callable": "x"}, "depends_on": ["zz"]}]}
    with pytest.raises(InvalidArgumentError, match="depends on 'zz'"):
        client.register_template(unknown)
    with pytest.raises(InvalidArgumentError, match="is not a file"):
        client.register_template("/no/such/template.yaml")
    with pytest.raises(NotFoundError, match="no task template 'default/missing'"):
        client.create_task("missing")
    with pytest.raises(InvalidArgumentError, match="context"):
        client.create_task("missing", context={"x": object()})
    with pytest.raises(NotFoundError):
        client.get_task(str(uuid.uuid4()))
    with pytest.raises(InvalidArgumentError, match="is not a UUID"):
        client.get_task("nope")
    with pytest.raises(InvalidArgumentError, match="not a task state"):
        client.list_tasks(status="sleepy")
    with pytest.raises(InvalidArgumentError, match="limit"):
        client.list_tasks(limit=-1)


def test_cancel_listings_and_paging(client: TaskerClient) -> None:
    client.register_template(one_step("idle", "noop"))
    made = [client.create_task("idle", namespace="t", context={"i": i}) for i in range(5)]
    cancelled = client.cancel_task(made[0].task_uuid)
    assert cancelled["status"] == "cancelled" and cancelled["steps"][0]["current_state"] == "cancelled"
    page = client.list_tasks(limit=2, offset=0, namespace="t")
    assert [t.context["i"] for t in page.tasks] == [4, 3]
    assert page.pagination == {
        "page": 1,
        "per_page": 2,
        "total_count": 5,
        "total_pages": 3,
        "has_next": True,
        "has_previous": False,
    }
    assert [t.task_uuid for t in client.list_tasks(status="cancelled").tasks] == [made[0].task_uuid]
    assert client.list_tasks(namespace="other").pagination["total_count"] == 0
    assert len(client.list_task_steps(made[1].task_uuid)) == 1


def test_a_late_result_from_a_worker_that_lost_its_lease_is_rejected(client: TaskerClient) -> None:
    client.register_template(one_step("leased", "noop"))
    task = client.create_task("leased", namespace="t")
    wf = client.runtime.exports.workflows
    [first] = wf.claim("slow", [], 1, 100)
    assert wf.claim("fast", [], 1, 100) == []
    time.sleep(0.15)
    [second] = wf.claim("fast", [], 1, 5000)
    assert second["attempt"] == 2 and json.loads(second["context_json"])["retry_count"] == 1
    ok = json.dumps({"success": True, "result": {"by": "x"}})
    assert wf.renew(task.task_uuid, first["step_uuid"], "slow", 1, 1000) is False
    late = wf.complete(task.task_uuid, first["step_uuid"], "slow", 1, ok)
    assert late[0] == "rejected" and "no longer holds" in late[1]
    assert wf.complete(task.task_uuid, second["step_uuid"], "fast", 2, ok) == ("recorded", "complete")
    again = wf.complete(task.task_uuid, second["step_uuid"], "fast", 2, ok)
    assert again[0] == "rejected" and "already has its result" in again[1]
    audit = client.get_step_audit_history(task.task_uuid, first["step_uuid"])
    assert [(a.to_state, a.worker_uuid) for a in audit] == [
        ("in_progress", "slow"),
        ("waiting_for_retry", "slow"),
        ("pending", None),
        ("in_progress", "fast"),
        ("complete", "fast"),
    ]


def test_templates_load_from_tasker_template_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKER_TEMPLATE_PATH", str(TEMPLATES))
    with TaskerClient(runtime=Runtime(":memory:")) as c:
        assert [t["name"] for t in c.list_templates()] == ["diamond_workflow"]
        assert c.health_check()["healthy"] is True


def test_worker_start_is_one_per_process_and_stops_cleanly(client: TaskerClient) -> None:
    HandlerRegistry.reset_instance()
    w = Worker.start(["tests.worker_extra"], runtime=client.runtime, poll_interval=0.01)
    try:
        assert w.is_running and Worker.start(runtime=client.runtime) is w
        done = run(client, one_step("started", "who"), {})
        assert done.status == "complete"
    finally:
        w.stop()
        w.stop()
    assert not w.is_running
    with pytest.raises(InvalidArgumentError, match="concurrency"):
        Worker(runtime=client.runtime, concurrency=0)


def test_storage_urls_are_checked_and_name_the_problem(tmp_path: Path) -> None:
    from agentcell import StorageError
    from agentcell.worker._storage_url import storage_path

    assert storage_path("sqlite:///rel/tasks.db") == Path("rel/tasks.db")
    assert storage_path(f"sqlite:///{tmp_path}/t.db") == tmp_path / "t.db"
    assert storage_path("memory://") == ":memory:"
    relaxed = storage_path(f"sqlite:///{tmp_path}/n.db?synchronous=normal")
    assert isinstance(relaxed, SQLiteStorage) and relaxed.path == str(tmp_path / "n.db")
    assert relaxed._run("PRAGMA synchronous", ())[0][0] == 1  # NORMAL
    relaxed.close()
    for bad in ("sqlite:///t.db?synchronous=off", "sqlite:///t.db?fsync=1", "sqlite:///t.db?synchronous"):
        with pytest.raises(AgentcellError, match="synchronous"):
            storage_path(bad)
    with pytest.raises(InvalidArgumentError, match="unknown scheme 'ftp'"):
        storage_path("ftp://x")
    with pytest.raises(StorageError, match=r"postgresql 127\.0\.0\.1:1/tasks: .*") as pg:
        storage_path("postgresql://u@127.0.0.1:1/tasks")
    assert pg.value.field == "storage"
    with pytest.raises(StorageError, match=r"redis://127\.0\.0\.1:1/0: .*Connection refused") as e:
        TaskerClient(storage="redis://127.0.0.1:1/0")
    assert e.value.field == "storage"
