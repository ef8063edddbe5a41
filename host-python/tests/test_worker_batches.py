"""Batch steps through a real worker: an analyzer's `BatchConfig` becomes one worker step
per cursor range, run in parallel, and a convergence step totals their results."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from agentcell._wasm import Runtime
from agentcell.worker import (
    Batchable,
    BatchConfig,
    BatchWorkerContext,
    HandlerRegistry,
    StepContext,
    StepHandler,
    StepHandlerResult,
    TaskerClient,
    Worker,
    batch_analyzer,
    batch_worker,
)

TEMPLATE = {
    "name": "sum_rows",
    "namespace_name": "batches",
    "steps": [
        {"name": "analyze", "type": "batchable", "handler": {"callable": "count_rows"}},
        {
            "name": "process",
            "type": "batch_worker",
            "handler": {"callable": "sum_range"},
            "dependencies": ["analyze"],
        },
        {
            "name": "total",
            "type": "deferred_convergence",
            "handler": {"callable": "total"},
            "dependencies": ["process"],
        },
    ],
}


@batch_analyzer("count_rows", worker_template="process")
def count_rows(context: StepContext) -> BatchConfig:
    return BatchConfig(total_items=context.get_input("rows"), batch_size=context.get_input("per_batch"))


@batch_worker("sum_range")
def sum_range(batch_context: BatchWorkerContext) -> dict[str, Any]:
    values = range(batch_context.start_cursor, batch_context.end_cursor)
    return {"items_processed": len(values), "items_succeeded": len(values), "sum": sum(values)}


class Total(StepHandler, Batchable):
    handler_name = "total"

    def call(self, context: StepContext) -> StepHandlerResult:
        results = context.get_all_dependency_results("process_")
        summary = self.aggregate_worker_results(results)
        return self.success({**summary, "sum": sum(r["sum"] for r in results)})


def registry_with(name: str, worker: Any) -> HandlerRegistry:
    """The analyzer and the total, with `worker` (a `@batch_worker` function) as `name`."""
    registry = HandlerRegistry()
    registry.register("count_rows", count_rows._handler_class)  # type: ignore[attr-defined]
    registry.register(name, worker._handler_class)
    registry.register("total", Total)
    return registry


@pytest.fixture
def client() -> Iterator[TaskerClient]:
    registry = registry_with("sum_range", sum_range)
    with TaskerClient(runtime=Runtime(":memory:")) as c:
        c.register_template(TEMPLATE)
        with Worker(registry, runtime=c.runtime, concurrency=4, poll_interval=0.01, worker_id="w1"):
            yield c


def test_each_cursor_range_runs_as_its_own_step_and_the_total_reads_them_all(client: TaskerClient) -> None:
    task = client.create_task("sum_rows", namespace="batches", context={"rows": 1050, "per_batch": 100})
    done = client.wait_for_task(task.task_uuid, timeout=30)
    assert done.status == "complete", done
    names = [s.name for s in done.steps]
    workers = [n for n in names if n.startswith("process_")]
    assert workers == [f"process_{n:03d}" for n in range(1, 12)]  # 10 full batches and one of 50
    total = next(s for s in done.steps if s.name == "total").results["result"]
    assert total["sum"] == sum(range(1050))
    assert (total["total_processed"], total["batch_count"], total["success_rate"]) == (1050, 11, 1.0)
    last = next(s for s in done.steps if s.name == "process_011").results["result"]
    assert last["items_processed"] == 50


def test_no_rows_makes_no_batches_and_the_total_still_runs(client: TaskerClient) -> None:
    task = client.create_task("sum_rows", namespace="batches", context={"rows": 0, "per_batch": 100})
    done = client.wait_for_task(task.task_uuid, timeout=30)
    assert done.status == "complete"
    assert not [s for s in done.steps if s.name.startswith("process_")]
    assert next(s for s in done.steps if s.name == "total").results["result"]["batch_count"] == 0


def test_a_bad_batch_config_fails_the_analyzer_permanently(client: TaskerClient) -> None:
    task = client.create_task("sum_rows", namespace="batches", context={"rows": 10, "per_batch": 0})
    done = client.wait_for_task(task.task_uuid, timeout=30)
    assert done.status == "error"
    analyze = done.steps[0]
    assert analyze.current_state == "error" and analyze.attempts == 1
    audit = client.get_step_audit_history(task.task_uuid, analyze.step_uuid)
    assert "batch_size must be >= 1" in (audit[-1]["error"] or "")


def test_batch_context_reads_a_workers_inputs() -> None:
    cursor = {"batch_id": "002", "start_cursor": 10, "end_cursor": 20}
    ctx = StepContext(
        task_uuid=uuid.uuid4(),
        step_uuid=uuid.uuid4(),
        correlation_id=uuid.uuid4(),
        handler_name="h",
        step_inputs={"cursor": cursor, "batch_metadata": {"f": 1}},
    )
    batch = BatchWorkerContext.from_step_context(ctx)
    assert batch is not None
    assert (batch.batch_id, batch.start_cursor, batch.end_cursor, batch.batch_metadata) == (
        "002",
        10,
        20,
        {"f": 1},
    )
    plain = StepContext(
        task_uuid=uuid.uuid4(), step_uuid=uuid.uuid4(), correlation_id=uuid.uuid4(), handler_name="h"
    )
    assert BatchWorkerContext.from_step_context(plain) is None
    with pytest.raises(TypeError):
        BatchConfig(total_items="10", batch_size=5)  # type: ignore[arg-type]


def test_parallelism_caps_the_batch_workers_running_at_once() -> None:
    """`batch_config.parallelism: 2` on the analyzer: a worker with 8 threads (and its
    prefetch) still runs at most two of the batch's workers at any moment."""
    import copy
    import threading
    import time

    running, most = 0, 0
    lock = threading.Lock()

    @batch_worker("slow_range")
    def slow_range(batch_context: BatchWorkerContext) -> dict[str, Any]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return {"items_processed": 1, "items_succeeded": 1, "sum": batch_context.start_cursor}

    template = copy.deepcopy(TEMPLATE)
    template["name"] = "capped_rows"
    template["steps"][0]["batch_config"] = {"batch_size": 10, "parallelism": 2}  # type: ignore[index]
    template["steps"][1]["handler"] = {"callable": "slow_range"}  # type: ignore[index]
    registry = registry_with("slow_range", slow_range)
    with TaskerClient(runtime=Runtime(":memory:")) as c:
        c.register_template(template)
        with Worker(registry, runtime=c.runtime, concurrency=8, poll_interval=0.01, worker_id="w1"):
            task = c.create_task("capped_rows", namespace="batches", context={"rows": 80, "per_batch": 10})
            done = c.wait_for_task(task.task_uuid, timeout=30)
    assert done.status == "complete", done
    assert len([s for s in done.steps if s.name.startswith("process_")]) == 8
    assert most == 2, f"at most {most} ran at once"
