"""Upstream's diamond workflow (start squares; B adds a constant, C multiplies; end
averages), in both of upstream's styles; only the import names agentcell."""

from __future__ import annotations

from typing import Any

from agentcell.worker import (
    PermanentError,
    StepContext,
    StepHandler,
    StepHandlerResult,
    depends_on,
    inputs,
    step_handler,
)


class DiamondStartHandler(StepHandler):
    handler_name = "diamond_start_py"

    def call(self, context: StepContext) -> StepHandlerResult:
        n = context.get_input("even_number")
        if n is None or n % 2:
            return self.failure("even_number must be even", error_type="validation_error", retryable=False)
        return self.success({"result": n * n})


@step_handler("diamond_branch_b_py")
@depends_on(start="diamond_start_py")
def branch_b(start: dict[str, Any], context: StepContext) -> dict[str, Any]:
    return {"result": start["result"] + context.get_config("constant")}


@step_handler("diamond_branch_c_py")
@depends_on(start="diamond_start_py")
async def branch_c(start: dict[str, Any]) -> dict[str, Any]:
    return {"result": start["result"] * 2}


@step_handler("diamond_end_py")
@depends_on(b="diamond_branch_b_py", c="diamond_branch_c_py")
@inputs("even_number")
def end(b: dict[str, Any], c: dict[str, Any], even_number: int | None) -> float:
    if even_number is None:
        raise PermanentError("the task's even_number is gone")
    return (b["result"] + c["result"]) / 2
