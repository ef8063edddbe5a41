"""Handlers for the engine's tests: ones that fail in each way upstream classifies, one
that is slow the first time (to be killed mid-step), a decision, and no-ops."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from agentcell.worker import (
    Decision,
    PermanentError,
    RetryableError,
    StepContext,
    StepHandler,
    StepHandlerResult,
    decision_handler,
    step_handler,
)


@step_handler("noop")
def noop() -> dict[str, Any]:
    return {}


@step_handler("who")
def who(context: StepContext) -> dict[str, Any]:
    """Which process ran it, after a short pause (so two workers share a batch)."""
    time.sleep(float(context.get_input_or("pause", 0.0)))
    return {"pid": os.getpid(), "attempt": context.retry_count + 1}


@step_handler("slow_first_time")
def slow_first_time(context: StepContext) -> dict[str, Any]:
    """On its first attempt, touches the `marker` file and hangs (to be killed)."""
    if context.retry_count == 0:
        Path(context.get_input("marker")).write_text(str(os.getpid()))
        time.sleep(120)
    return {"pid": os.getpid(), "retry_count": context.retry_count}


class Raises(StepHandler):
    """Raises what the task's `raise` input names, until attempt `until` (if given)."""

    handler_name = "raises"

    def call(self, context: StepContext) -> StepHandlerResult:
        until = context.get_input("until")
        if until is not None and context.retry_count + 1 >= until:
            return self.success({"attempts": context.retry_count + 1})
        kind = context.get_input("raise")
        errors: dict[str, Exception] = {
            "permanent": PermanentError("nope"),
            "retryable": RetryableError("later"),
            "value": ValueError("bad value"),
            "connection": ConnectionError("refused"),
        }
        if kind == "failure":
            return self.failure("told to fail", error_type="validation_error", retryable=False)
        raise errors[kind]


@step_handler("async_double")
async def async_double(context: StepContext) -> dict[str, Any]:
    return {"value": context.get_input("n") * 2}


@decision_handler("route_by_size")
def route_by_size(context: StepContext) -> Any:
    if context.get_input("size") == "none":
        return Decision.skip("nothing to do")
    return Decision.route(["small"] if context.get_input("size") < 10 else ["large"])


@step_handler("label")
def label(context: StepContext) -> dict[str, Any]:
    return {"step": context.step_name}


@step_handler("sleepy")
def sleepy(context: StepContext) -> dict[str, Any]:
    import time

    time.sleep(context.get_input("sleep"))
    return {"slept": context.get_input("sleep")}
