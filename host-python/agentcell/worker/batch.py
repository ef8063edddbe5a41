"""Batch steps, as upstream's `Batchable` has them: an analyzer step (template `type:
batchable`) counts the work and answers with cursor ranges; the engine then runs one
copy of its `batch_worker` step per range, each reading its range from
`BatchWorkerContext`; a `deferred_convergence` step after them reads every batch's
result.

    @batch_analyzer("count_rows", worker_template="process_rows")
    def count_rows(context):
        return BatchConfig(total_items=10_000, batch_size=1_000)

    @batch_worker("process_rows")
    def process_rows(batch_context):
        return {"items_processed": batch_context.end_cursor - batch_context.start_cursor}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .functional import _handler_class, _wrap
from .types import StepContext, StepHandlerResult

__all__ = [
    "BatchConfig",
    "BatchWorkerContext",
    "Batchable",
    "CursorConfig",
    "batch_analyzer",
    "batch_worker",
]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CursorConfig:
    """One batch's range of items: `start_cursor` (inclusive) to `end_cursor` (exclusive)."""

    start_cursor: int
    end_cursor: int
    step_size: int = 1
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class BatchConfig:
    """What a `@batch_analyzer` function returns: how many items, how many per batch."""

    total_items: int
    batch_size: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("total_items", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if self.total_items < 0:
            raise ValueError(f"total_items must be >= 0, got {self.total_items}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


@dataclass
class BatchWorkerContext:
    """A batch worker's share of the work, from its step's `step_inputs`."""

    batch_id: str
    cursor_config: CursorConfig
    batch_metadata: dict[str, Any] = field(default_factory=dict)
    is_no_op: bool = False

    @property
    def start_cursor(self) -> int:
        """The first item of the batch."""
        return self.cursor_config.start_cursor

    @property
    def end_cursor(self) -> int:
        """One past the last item of the batch."""
        return self.cursor_config.end_cursor

    @property
    def step_size(self) -> int:
        """Items per processing step within the batch."""
        return self.cursor_config.step_size

    @classmethod
    def from_step_context(cls, context: StepContext) -> BatchWorkerContext | None:
        """The batch of a worker step; None for a step that is not a batch worker."""
        cursor = context.step_inputs.get("cursor")
        if not isinstance(cursor, Mapping):
            return None
        config = CursorConfig(
            start_cursor=int(cursor.get("start_cursor", 0)),
            end_cursor=int(cursor.get("end_cursor", 0)),
            step_size=int(cursor.get("step_size", 1)),
            metadata=dict(cursor.get("metadata") or {}),
        )
        return cls(
            batch_id=str(cursor.get("batch_id", "")),
            cursor_config=config,
            batch_metadata=dict(context.step_inputs.get("batch_metadata") or {}),
            is_no_op=bool(context.step_inputs.get("is_no_op", False)),
        )


def cursor_ranges(total_items: int, batch_size: int, step_size: int = 1) -> list[CursorConfig]:
    """`total_items` cut into ranges of `batch_size` (the last one shorter)."""
    return [
        CursorConfig(start, min(start + batch_size, total_items), step_size)
        for start in range(0, total_items, batch_size)
    ]


def analyzer_result(
    cursors: list[CursorConfig],
    total_items: int,
    worker_template_name: str,
    batch_metadata: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> StepHandlerResult:
    """An analyzer's result: a `create_batches` outcome (`batch_id`s 001, 002, ...),
    or `no_batches` when `cursors` is empty."""
    if not cursors:
        outcome: dict[str, Any] = {
            "batch_processing_outcome": {"type": "no_batches"},
            "reason": "empty_dataset",
        }
        return StepHandlerResult.success(
            outcome, {**(metadata or {}), "batch_analyzer": True, "no_batches": True}
        )
    configs = [
        {
            "batch_id": f"{n + 1:03d}",
            "start_cursor": c.start_cursor,
            "end_cursor": c.end_cursor,
            "batch_size": c.end_cursor - c.start_cursor,
            "step_size": c.step_size,
            "metadata": dict(c.metadata),
        }
        for n, c in enumerate(cursors)
    ]
    result: dict[str, Any] = {
        "batch_processing_outcome": {
            "type": "create_batches",
            "worker_template_name": worker_template_name,
            "worker_count": len(configs),
            "cursor_configs": configs,
            "total_items": total_items,
        },
        "worker_count": len(configs),
        "total_items": total_items,
    }
    if batch_metadata:
        result["batch_metadata"] = dict(batch_metadata)
    return StepHandlerResult.success(result, {**(metadata or {}), "batch_analyzer": True})


class Batchable:
    """Helpers for batch handlers written as classes (mix into a `StepHandler`)."""

    def create_cursor_ranges(
        self, total_items: int, batch_size: int, step_size: int = 1
    ) -> list[CursorConfig]:
        """`total_items` cut into ranges of `batch_size`."""
        return cursor_ranges(total_items, batch_size, step_size)

    def batch_analyzer_success(
        self,
        cursor_configs: list[CursorConfig],
        total_items: int,
        worker_template_name: str = "batch_worker",
        batch_metadata: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> StepHandlerResult:
        """The analyzer's result creating one worker per cursor range."""
        return analyzer_result(cursor_configs, total_items, worker_template_name, batch_metadata, metadata)

    def no_batches_outcome(self, reason: str, metadata: Mapping[str, Any] | None = None) -> StepHandlerResult:
        """The analyzer's result when there is nothing to do."""
        result = {"batch_processing_outcome": {"type": "no_batches"}, "reason": reason, **(metadata or {})}
        return StepHandlerResult.success(result, {"batch_analyzer": True, "no_batches": True})

    def get_batch_context(self, context: StepContext) -> BatchWorkerContext | None:
        """This worker's batch (None outside a batch worker)."""
        return BatchWorkerContext.from_step_context(context)

    @staticmethod
    def aggregate_worker_results(worker_results: list[Mapping[str, Any] | None]) -> dict[str, Any]:
        """Totals of batch workers' results (`items_processed`, `items_succeeded`,
        `items_failed`, `items_skipped`, `errors`)."""
        totals = {"total_processed": 0, "total_succeeded": 0, "total_failed": 0, "total_skipped": 0}
        errors: list[Any] = []
        present = [r for r in worker_results if r is not None]
        for r in present:
            totals["total_processed"] += int(r.get("items_processed", 0))
            totals["total_succeeded"] += int(r.get("items_succeeded", 0))
            totals["total_failed"] += int(r.get("items_failed", 0))
            totals["total_skipped"] += int(r.get("items_skipped", 0))
            errors.extend(r.get("errors") or [])
        processed = totals["total_processed"]
        return {
            **totals,
            "batch_count": len(present),
            "success_rate": totals["total_succeeded"] / processed if processed else 0.0,
            "errors": errors[:100],
            "error_count": len(errors),
        }


def batch_analyzer(name: str, worker_template: str, version: str = "1.0.0") -> Callable[[F], F]:
    """A step handler from a function returning `BatchConfig` (or a result as
    `@step_handler` takes it): the batches become copies of the `worker_template` step."""

    def wrap(value: Any) -> StepHandlerResult:
        if isinstance(value, BatchConfig):
            ranges = cursor_ranges(value.total_items, value.batch_size)
            return analyzer_result(ranges, value.total_items, worker_template, value.metadata)
        return _wrap(value)

    def make(fn: F) -> F:
        fn.__dict__["_handler_class"] = _handler_class(fn, name, version, wrap)
        return fn

    return make


def batch_worker(name: str, version: str = "1.0.0") -> Callable[[F], F]:
    """A step handler from a function that takes its batch as `batch_context` (a
    `BatchWorkerContext`), besides what `@step_handler` functions take."""

    def make(fn: F) -> F:
        fn.__dict__["_handler_class"] = _handler_class(fn, name, version, _wrap, extra=_batch_kwargs)
        return fn

    return make


def _batch_kwargs(context: StepContext) -> dict[str, Any]:
    return {"batch_context": BatchWorkerContext.from_step_context(context)}
