"""`MultiAgentOrchestrator` (seed 004) on the workflow engine: the seed's example,
routing by capability, handlers of every kind, failures, and outcomes kept in HTMCore."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agentcell.memory import HTMCore, MultiAgentOrchestrator, ValidationError
from agentcell.worker import RetryableError, StepContext, StepHandler, StepHandlerResult, step_handler


@pytest.fixture
def htm() -> HTMCore:
    return HTMCore(":memory:", dimension=64)


def test_the_seeds_example_runs_and_reports_what_happened(
    tmp_path: Path, htm: HTMCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("def main():\n    if True:\n        return 1\n")

    async def main() -> dict[str, Any]:
        orchestrator = MultiAgentOrchestrator(htm)
        orchestrator.add_agent("analyzer", ["code_analysis", "ast_parsing"])
        orchestrator.add_agent("embedder", ["embedding_generation", "similarity_search"])
        orchestrator.add_agent("validator", ["nam_validation", "ethical_checking"])
        task = {
            "type": "code_review",
            "files": ["src/main.py", "src/utils.py"],
            "requirements": ["security_check", "quality_analysis"],
        }
        result = await orchestrator.coordinate_task(
            task, required_capabilities=["code_analysis", "nam_validation"]
        )
        status = orchestrator.get_agent_status()
        orchestrator.close()
        return {"result": result, "status": status}

    out = asyncio.run(main())
    result = out["result"]
    assert result["success"] is True and result["agents_involved"] == ["analyzer", "validator"]
    analysis = result["results"]["code_analysis"]
    assert analysis["agent"] == "analyzer" and analysis["missing"] == ["src/utils.py"]
    assert analysis["files"]["src/main.py"]["line_count"] == 3
    assert result["results"]["nam_validation"]["recommended"], "the validator recommends axioms"
    assert out["status"]["analyzer"]["tasks_completed"] == 1 and out["status"]["embedder"]["status"] == "idle"
    # The outcome is in the store, under the task's id, found again by its embedding.
    entry = htm.get_embedding(f"orchestrator/{result['task_id']}")
    assert entry is not None and entry["metadata"]["success"] is True
    assert entry["metadata"]["capabilities"] == ["code_analysis", "nam_validation"]
    [(key, _, _)] = htm.search_similar(entry["embedding"], limit=1)
    assert key == f"orchestrator/{result['task_id']}"


def test_handlers_of_every_kind_route_by_capability_and_failures_are_reported(htm: HTMCore) -> None:
    calls: list[str] = []

    def summarise(task: dict[str, Any], capability: str) -> dict[str, Any]:
        calls.append(capability)
        return {"words": len(task["text"].split())}

    async def translate(task: dict[str, Any], _capability: str) -> str:
        return task["text"].upper()

    class Flaky(StepHandler):
        handler_name = "flaky"

        def call(self, context: StepContext) -> StepHandlerResult:
            if context.retry_count == 0:
                raise RetryableError("warming up")
            return self.success(
                {"capability": context.get_config("capability"), "attempt": context.retry_count + 1}
            )

    @step_handler("broken")
    def broken() -> None:
        raise ValueError("cannot do it")

    orch = MultiAgentOrchestrator(htm)
    orch.add_agent("a1", ["summary"], handler=summarise)
    orch.add_agent("a2", ["summary", "translation"], handler=translate)
    orch.add_agent("a3", ["retrying"], handler=Flaky)
    orch.add_agent("a4", ["failing"], handler=broken)
    try:
        first = asyncio.run(orch.coordinate_task({"text": "a b c"}, ["summary", "translation", "retrying"]))
        assert first["success"] and first["results"]["summary"] == {"agent": "a1", "words": 3}
        assert first["results"]["translation"] == {"agent": "a2", "result": "A B C"}
        assert first["results"]["retrying"] == {"agent": "a3", "capability": "retrying", "attempt": 2}
        second = asyncio.run(orch.coordinate_task({"text": "x"}, ["summary"]))
        assert second["agents_involved"] == ["a1"], (
            "a1 did one capability, a2 one: the first listed wins the tie"
        )
        failed = asyncio.run(orch.coordinate_task({"text": "x"}, ["failing", "summary"]))
        assert failed["success"] is False and failed["status"] == "error"
        assert failed["errors"] == {"failing": "handler_error: cannot do it"}
        status = orch.get_agent_status()
        assert status["a4"]["tasks_failed"] == 1 and status["a1"]["built_in"] is False
        assert len(htm) == 3
    finally:
        orch.close()


def test_bad_agents_and_tasks_are_validation_errors(htm: HTMCore) -> None:
    orch = MultiAgentOrchestrator(htm)
    try:
        with pytest.raises(ValidationError, match="not built in"):
            orch.add_agent("x", ["juggling"])
        with pytest.raises(ValidationError, match="list of non-empty strings"):
            orch.add_agent("x", "code_analysis")  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="agent_id"):
            orch.add_agent("", ["code_analysis"])
        orch.add_agent("analyzer", ["code_analysis"])
        with pytest.raises(ValidationError, match="no agent has 'juggling'"):
            asyncio.run(orch.coordinate_task({}, ["juggling"]))
        with pytest.raises(ValidationError, match="task: must be a dict"):
            asyncio.run(orch.coordinate_task([], ["code_analysis"]))  # type: ignore[arg-type]
        nothing = asyncio.run(orch.coordinate_task({"files": ["nope.py"]}, ["code_analysis"]))
        assert nothing["success"] is False and "nope.py" in nothing["errors"]["code_analysis"]
    finally:
        orch.close()
