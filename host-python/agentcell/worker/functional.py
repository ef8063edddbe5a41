"""Step handlers as functions: `@step_handler` makes a `StepHandler` class of a plain or
`async` function, `@depends_on` and `@inputs` (stacked under it) say which dependency
results and context values it receives as keyword arguments, and `@decision_handler`
makes one that chooses which steps run next (`Decision.route` / `Decision.skip`)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .handler import StepHandler, _error_result
from .types import StepContext, StepHandlerResult

__all__ = ["Decision", "DecisionPointOutcome", "decision_handler", "depends_on", "inputs", "step_handler"]

F = TypeVar("F", bound=Callable[..., Any])


def depends_on(**dependencies: str | tuple[str, Any]) -> Callable[[F], F]:
    """``@depends_on(param="step_name")``: the function gets that step's result as
    `param` (None when absent); ``param=("step_name", Model)`` validates it into a
    pydantic-style model (anything with `model_validate`)."""

    def mark(fn: F) -> F:
        fn.__dict__.setdefault("_depends_on", {}).update(dependencies)
        return fn

    return mark


def inputs(*keys: Any) -> Callable[[F], F]:
    """``@inputs("a", "b")``: the function gets those task-context values as keyword
    arguments (None when absent); ``@inputs(Model)``: the whole context validated into
    the model, as `inputs`."""

    def mark(fn: F) -> F:
        fn.__dict__.setdefault("_inputs", []).extend(keys)
        return fn

    return mark


def _wrap(value: Any) -> StepHandlerResult:
    """A function's return value as a result: passed on, a dict, a model, None, or
    anything else under ``"result"``."""
    if isinstance(value, StepHandlerResult):
        return value
    if value is None:
        return StepHandlerResult.success({})
    if isinstance(value, dict):
        return StepHandlerResult.success(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return StepHandlerResult.success(dump(mode="json"))
    return StepHandlerResult.success({"result": value})


def _kwargs(fn: Callable[..., Any], context: StepContext) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for param, dep in getattr(fn, "_depends_on", {}).items():
        step, model = dep if isinstance(dep, tuple) else (dep, None)
        value = context.get_dependency_result(step)
        kwargs[param] = model.model_validate(value) if model is not None and value is not None else value
    for key in getattr(fn, "_inputs", []):
        if isinstance(key, str):
            kwargs[key] = context.get_input(key)
        else:  # a model of the whole context
            kwargs["inputs"] = key.model_validate(context.input_data)
    parameters = inspect.signature(fn).parameters
    for name in ("context", "_context"):
        if name in parameters:
            kwargs[name] = context
    return kwargs


def _handler_class(
    fn: Callable[..., Any],
    name: str,
    version: str,
    wrap: Callable[[Any], StepHandlerResult],
    extra: Callable[[StepContext], dict[str, Any]] | None = None,
) -> type[StepHandler]:
    """A `StepHandler` class calling `fn` with the arguments it asks for (and those
    `extra` adds), its return value made a result by `wrap`."""

    def arguments(context: StepContext) -> dict[str, Any]:
        kwargs = _kwargs(fn, context)
        if extra is not None:
            kwargs.update(extra(context))
        return kwargs

    if inspect.iscoroutinefunction(fn):

        async def call_async(_self: StepHandler, context: StepContext) -> StepHandlerResult:
            try:
                return wrap(await fn(**arguments(context)))
            except Exception as exc:  # the handler's failure is its result
                return _error_result(exc)

        call: Callable[..., Any] = call_async
    else:

        def call_sync(_self: StepHandler, context: StepContext) -> StepHandlerResult:
            try:
                return wrap(fn(**arguments(context)))
            except Exception as exc:  # the handler's failure is its result
                return _error_result(exc)

        call = call_sync
    cls = type(
        f"{fn.__name__}_handler",
        (StepHandler,),
        {"handler_name": name, "handler_version": version, "call": call, "__doc__": fn.__doc__},
    )
    return cls


def step_handler(name: str, version: str = "1.0.0") -> Callable[[F], F]:
    """Makes `fn` a step handler named `name`; the class is `fn._handler_class`
    (what `HandlerRegistry.register` and `discover_handlers` take)."""

    def make(fn: F) -> F:
        fn.__dict__["_handler_class"] = _handler_class(fn, name, version, _wrap)
        return fn

    return make


@dataclass
class DecisionPointOutcome:
    """What a decision handler chose: ``create_steps`` (the steps named run next) or
    ``no_branches`` (none do)."""

    decision_type: str
    next_step_names: list[str] = field(default_factory=list)
    reason: str | None = None
    routing_context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON-ready data."""
        return {
            "decision_type": self.decision_type,
            "next_step_names": list(self.next_step_names),
            "reason": self.reason,
            "routing_context": dict(self.routing_context),
        }


class Decision:
    """What a `@decision_handler` function returns."""

    @staticmethod
    def route(steps: list[str], **routing_context: Any) -> DecisionPointOutcome:
        """Run `steps` next."""
        if isinstance(steps, str):
            raise TypeError("steps: a list of step names, not one string")
        return DecisionPointOutcome("create_steps", list(steps), None, routing_context)

    @staticmethod
    def skip(reason: str, **routing_context: Any) -> DecisionPointOutcome:
        """Run none of the branches, saying why."""
        return DecisionPointOutcome("no_branches", [], reason, routing_context)


def _wrap_decision(value: Any) -> StepHandlerResult:
    if isinstance(value, DecisionPointOutcome):
        return StepHandlerResult.success({"decision_point_outcome": value.to_dict()})
    return _wrap(value)


def decision_handler(name: str, version: str = "1.0.0") -> Callable[[F], F]:
    """Like `step_handler`, for a function returning `Decision.route(...)` or
    `Decision.skip(...)`; the outcome is the step's result under ``decision_point_outcome``."""

    def make(fn: F) -> F:
        fn.__dict__["_handler_class"] = _handler_class(fn, name, version, _wrap_decision)
        return fn

    return make
