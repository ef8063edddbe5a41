"""The benchmark's handlers for agentcell's worker: a no-op, and the diamond's four."""

from __future__ import annotations

from typing import Any

from agentcell.worker import StepContext, step_handler


@step_handler("noop")
def noop() -> dict[str, Any]:
    return {}


@step_handler("square")
def square(context: StepContext) -> dict[str, Any]:
    return {"value": context.get_input("n") ** 2}


@step_handler("add")
def add(context: StepContext) -> dict[str, Any]:
    return {"value": context.get_dependency_result("start")["value"] + 25}


@step_handler("double")
def double(context: StepContext) -> dict[str, Any]:
    return {"value": context.get_dependency_result("start")["value"] * 2}


@step_handler("average")
def average(context: StepContext) -> dict[str, Any]:
    left = context.get_dependency_result("left")["value"]
    right = context.get_dependency_result("right")["value"]
    return {"value": (left + right) / 2}
