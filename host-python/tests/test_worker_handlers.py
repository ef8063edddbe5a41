"""The step handler API of tasker-core's Python worker (issue 16, first part): class and
function handlers, context helpers, results, the error rules and the registry."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from agentcell import worker
from agentcell.worker import (
    Decision,
    ErrorClassifier,
    ErrorType,
    HandlerRegistry,
    PermanentError,
    RetryableError,
    StepContext,
    StepHandler,
    StepHandlerResult,
    decision_handler,
    run_step,
    step_handler,
)

from .worker_handlers import diamond


def ctx(
    name: str, inputs: dict[str, Any] | None = None, deps: dict[str, Any] | None = None, **kw: Any
) -> StepContext:
    return StepContext(
        task_uuid=uuid.uuid4(),
        step_uuid=uuid.uuid4(),
        handler_name=name,
        input_data=inputs or {},
        dependency_results=deps or {},
        **kw,
    )


def run(registry: HandlerRegistry, name: str, context: StepContext) -> StepHandlerResult:
    handler = registry.resolve(name)
    assert handler is not None, name
    return run_step(handler, context)


def test_the_diamond_runs_by_hand_as_upstream_computes_it() -> None:
    registry = HandlerRegistry()
    assert registry.discover_handlers("tests.worker_handlers") == 4
    assert registry.list_handlers() == [
        "diamond_branch_b_py",
        "diamond_branch_c_py",
        "diamond_end_py",
        "diamond_start_py",
    ]
    start = run(registry, "diamond_start_py", ctx("s", {"even_number": 6}))
    assert start.is_success and start.result == {"result": 36}

    # Dependency results arrive as recorded envelopes (upstream's StepExecutionResult);
    # get_dependency_result unwraps them to what the handler returned.
    def envelope(r: StepHandlerResult) -> dict[str, Any]:
        return {"success": r.is_success, "result": r.result, "metadata": r.metadata}

    deps = {"diamond_start_py": envelope(start)}
    b = run(registry, "diamond_branch_b_py", ctx("b", deps=deps, step_config={"constant": 25}))
    c = run(registry, "diamond_branch_c_py", ctx("c", deps=deps))
    assert (b.result, c.result) == ({"result": 61}, {"result": 72})
    end = run(
        registry,
        "diamond_end_py",
        ctx(
            "e", {"even_number": 6}, {"diamond_branch_b_py": envelope(b), "diamond_branch_c_py": envelope(c)}
        ),
    )
    assert end.result == {"result": 66.5}
    odd = run(registry, "diamond_start_py", ctx("s", {"even_number": 7}))
    assert (odd.is_success, odd.error_type, odd.retryable) == (False, "validation_error", False)


@pytest.mark.parametrize(
    ("exc", "kind", "retryable"),
    [
        (PermanentError("no"), "permanent_error", False),
        (worker.ValidationError("bad input"), "permanent_error", False),
        (worker.NotFoundError("gone"), "permanent_error", False),
        (RetryableError("later"), "retryable_error", True),
        (worker.RateLimitError("slow down", retry_after=2.0), "retryable_error", True),
        (worker.TimeoutError("slow"), "retryable_error", True),
        (PermanentError("but try", retryable=True), "permanent_error", True),
        (ValueError("a bug"), "handler_error", False),
        (KeyError("k"), "handler_error", False),
        (ConnectionResetError("reset"), "handler_error", True),
        (RuntimeError("who knows"), "handler_error", True),
    ],
)
def test_a_raised_error_fails_the_step_as_the_rules_say(
    exc: BaseException, kind: str, retryable: bool
) -> None:
    @step_handler("raises")
    def fn() -> None:
        raise exc

    class Raises(StepHandler):
        handler_name = "raises_class"

        def call(self, context: StepContext) -> StepHandlerResult:  # noqa: ARG002
            raise exc

    # The same rules for function and class handlers (upstream retried a class's PermanentError).
    for handler in (fn._handler_class(), Raises()):  # type: ignore[attr-defined]
        out = run_step(handler, ctx("x"))
        assert (out.is_success, out.error_type, out.retryable) == (False, kind, retryable), handler
        assert out.metadata["exception_type"] == type(exc).__name__
    if isinstance(exc, worker.RateLimitError):
        assert out.metadata["retry_after"] == 2.0


def test_results_context_helpers_and_return_wrapping() -> None:
    ok = StepHandlerResult.success()
    assert ok.result == {} and ok.is_success_result() and not ok.is_failure_result()
    bad = StepHandlerResult.failure("x", ErrorType.TIMEOUT, retryable=True, error_code="E1")
    assert (bad.error_type, bad.error_code, bad.to_dict()["success"]) == ("timeout", "E1", False)
    assert ErrorType.is_standard("timeout") and not ErrorType.is_standard("mine")
    c = ctx("h", {"a": 1, "n": None}, {"s1": {"result": {"x": [5, 6]}}, "s2": 7, "t": 1}, retry_count=2)
    assert c.get_input_or("n", 3) == 3 and c.get_input("missing") is None
    assert c.get_dependency_field("s1", "x", 1) == 6 and c.get_dependency_field("s1", "nope") is None
    assert c.get_all_dependency_results("s") == [{"x": [5, 6]}, 7]
    assert c.is_retry() and c.is_last_retry()

    for value, expected in ((None, {}), ({"k": 1}, {"k": 1}), (5, {"result": 5})):

        @step_handler("wrap")
        def fn(v: Any = value) -> Any:
            return v

        assert run_step(fn._handler_class(), ctx("wrap")).result == expected  # type: ignore[attr-defined]


def test_decisions_and_a_non_result_return() -> None:
    @decision_handler("route")
    def route(context: StepContext) -> Any:
        if context.get_input("amount") > 100:
            return Decision.route(["manager_approval"], tier="high")
        return Decision.skip("small amount")

    high = run_step(route._handler_class(), ctx("route", {"amount": 500}))  # type: ignore[attr-defined]
    assert high.result == {
        "decision_point_outcome": {
            "decision_type": "create_steps",
            "next_step_names": ["manager_approval"],
            "reason": None,
            "routing_context": {"tier": "high"},
        }
    }
    low = run_step(route._handler_class(), ctx("route", {"amount": 5}))  # type: ignore[attr-defined]
    assert low.result is not None and low.result["decision_point_outcome"]["decision_type"] == "no_branches"
    with pytest.raises(TypeError):
        Decision.route("manager_approval")  # type: ignore[arg-type]

    class Wrong(StepHandler):
        def call(self, context: StepContext) -> StepHandlerResult:  # noqa: ARG002
            return {"not": "a result"}  # type: ignore[return-value]

    out = run_step(Wrong(), ctx("w"))
    assert (out.is_success, out.retryable) == (False, False) and "not a StepHandlerResult" in str(
        out.error_message
    )


def test_registry_rules_and_classifier() -> None:
    registry = HandlerRegistry()
    with pytest.raises(ValueError):
        registry.register("x", dict)  # type: ignore[arg-type]
    registry.register("start", diamond.DiamondStartHandler)
    assert registry.is_registered("start") and registry.handler_count() == 1
    first, second = registry.resolve("start"), registry.resolve("start")
    assert (
        first is not second and repr(first) == "DiamondStartHandler(name='diamond_start_py', version='1.0.0')"
    )
    assert (
        registry.resolve("nope") is None and registry.unregister("start") and not registry.unregister("start")
    )
    assert HandlerRegistry.instance() is HandlerRegistry.instance()
    classifier = ErrorClassifier(default_retryable=False)
    assert not classifier.retryable(RuntimeError()) and classifier.retryable(OSError())
    assert classifier.classify(worker.BusinessLogicError("no"))["classification"] == "permanent"
    assert worker.StepValidationError is worker.ValidationError and issubclass(
        worker.ValidationError, ValueError
    )
    assert worker.is_permanent(worker.AuthorizationError("no")) and worker.is_retryable(
        worker.NetworkError("x")
    )
