"""`MultiAgentOrchestrator` (seed 004): agents declared by their capabilities, tasks
split into one workflow step per required capability, each routed to an agent that has
it and run by the workflow engine (the same engine, claims and retries as every task),
and each task's outcome recorded in an `HTMCore` store.

    orchestrator = MultiAgentOrchestrator(htm)
    orchestrator.add_agent("analyzer", ["code_analysis"])            # a built-in capability
    orchestrator.add_agent("reviewer", ["review"], handler=review)   # or your own code
    result = await orchestrator.coordinate_task({"files": ["app.py"]}, ["code_analysis", "review"])

An agent's `handler` is a callable `(task, capability) -> dict` (sync or async), a
`StepHandler` class or a `@step_handler` function (its `StepContext.input_data` is the
task, `step_config["capability"]` the capability). An agent without a handler serves
the capabilities the core has built in (`BUILT_IN`): `code_analysis` and `ast_parsing`
(the core's code analysis of the task's `files` or `code`), `nam_validation` and
`ethical_checking` (the principle validator on the task's text), `embedding_generation`
(the task's lexical embedding) and `similarity_search` (the store's nearest entries to
it). A capability nobody can serve is a `ValidationError` naming it, before anything runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._wasm import Runtime
from .client import TaskerClient
from .handler import HandlerRegistry, StepHandler
from .runner import Worker
from .types import StepContext, StepHandlerResult

if TYPE_CHECKING:
    from ..memory import HTMCore

__all__ = ["BUILT_IN", "MultiAgentOrchestrator"]

AgentHandler = Callable[..., Any] | type[StepHandler]


def _task_text(task: dict[str, Any]) -> str:
    return json.dumps(task, sort_keys=True, default=str)


def _code_analysis(htm: HTMCore, task: dict[str, Any]) -> dict[str, Any]:
    sources: list[tuple[str, str]] = []
    missing: list[str] = []
    for name in task.get("files", []):
        path = Path(name)
        if path.is_file():
            sources.append((str(name), path.read_text(encoding="utf-8", errors="replace")))
        else:
            missing.append(str(name))
    if "code" in task:
        sources.append(("<task code>", str(task["code"])))
    if not sources:
        raise FileNotFoundError(
            f"none of the task's files can be read: {missing or 'no files or code given'}"
        )
    metrics = json.loads(htm.runtime.exports.code_analysis.analyze_batch(json.dumps(sources)))
    return {"files": dict(zip([s[0] for s in sources], metrics, strict=True)), "missing": missing}


def _principles(_htm: HTMCore, task: dict[str, Any]) -> dict[str, Any]:
    from ..memory import AxiomValidator

    validator = AxiomValidator()
    scored = validator.recommend_with_scores(_task_text(task), limit=5)
    ids = [axiom for axiom, _ in scored]
    return {
        "recommended": [{"axiom": a, "score": s} for a, s in scored],
        "resonance": validator.calculate_resonance(ids) if ids else 0.0,
    }


def _embedding(htm: HTMCore, task: dict[str, Any]) -> Any:
    from ..memory._vectors import from_hex

    return from_hex(
        htm.runtime.call_ok("code-analysis", "lexical-embedding", _task_text(task), htm.dimension)
    )


def _embedding_generation(htm: HTMCore, task: dict[str, Any]) -> dict[str, Any]:
    vector = _embedding(htm, task)
    return {"dimension": int(vector.shape[0]), "embedding": [float(x) for x in vector]}


def _similarity_search(htm: HTMCore, task: dict[str, Any]) -> dict[str, Any]:
    hits = htm.search_similar(_embedding(htm, task), limit=int(task.get("limit", 5)))
    return {"similar": [{"key": k, "score": s, "metadata": m} for k, s, m in hits]}


#: Capabilities an agent without a handler serves, with what the core computes for each.
BUILT_IN: dict[str, Callable[[HTMCore, dict[str, Any]], dict[str, Any]]] = {
    "code_analysis": _code_analysis,
    "ast_parsing": _code_analysis,
    "nam_validation": _principles,
    "ethical_checking": _principles,
    "embedding_generation": _embedding_generation,
    "similarity_search": _similarity_search,
}


class _Agent:
    def __init__(self, agent_id: str, capabilities: list[str], handler: AgentHandler | None) -> None:
        self.agent_id = agent_id
        self.capabilities = capabilities
        self.handler = handler
        self.completed = 0
        self.failed = 0
        self.running = 0
        self.last_task: str | None = None


def _step_handler_class(orch: MultiAgentOrchestrator, agent: _Agent) -> type[StepHandler]:
    """The workflow handler that runs `agent` for one capability of one task."""
    handler = agent.handler
    if isinstance(handler, type) and issubclass(handler, StepHandler):
        return handler
    inner = getattr(handler, "_handler_class", None)
    if isinstance(inner, type) and issubclass(inner, StepHandler):
        return inner
    fn: Callable[..., Any] | None = handler  # a plain callable, or None: built in

    class AgentStep(StepHandler):
        handler_name = f"agent:{agent.agent_id}"

        def call(self, context: StepContext) -> StepHandlerResult:
            capability = context.get_config("capability")
            task = context.input_data
            out: Any
            if fn is None:
                out = BUILT_IN[capability](orch.htm, task)
            else:
                out = fn(task, capability)
                if inspect.isawaitable(out):
                    out = asyncio.run(_awaited(out))
            return self.success(out if isinstance(out, dict) else {"result": out})

    return AgentStep


async def _awaited(value: Any) -> Any:
    return await value


class MultiAgentOrchestrator:
    """Agents by capability over the workflow engine; outcomes kept in `htm_core`.

    Args:
        htm_core: where each task's outcome is recorded (key `orchestrator/<task id>`,
            the task's lexical embedding, metadata: type, success, agents, capabilities).
        storage: where the engine keeps the tasks (a storage URL; default in memory).
        max_attempts: attempts per capability step (retryable failures are retried).
        timeout: seconds `coordinate_task` waits for a task.
    """

    def __init__(
        self,
        htm_core: HTMCore,
        *,
        storage: str | Path | None = "memory://",
        max_attempts: int = 2,
        timeout: float = 300.0,
    ) -> None:
        from ..memory import ValidationError

        if (
            isinstance(max_attempts, bool)
            or not isinstance(max_attempts, int)
            or not 1 <= max_attempts <= 100
        ):
            raise ValidationError(
                f"max_attempts: must be 1 to 100, got {max_attempts!r}", field="max_attempts"
            )
        self.htm = htm_core
        self.max_attempts = max_attempts
        self.timeout = timeout
        self._agents: dict[str, _Agent] = {}
        self._registry = HandlerRegistry()
        self._client = (
            TaskerClient(storage=storage)
            if storage != "memory://"
            else TaskerClient(runtime=Runtime(":memory:"))
        )
        self._worker: Worker | None = None
        self._guard = threading.Lock()

    def add_agent(self, agent_id: str, capabilities: list[str], handler: AgentHandler | None = None) -> None:
        """Registers (or replaces) an agent with what it can do, and the code that does it."""
        from ..memory import ValidationError

        if not isinstance(agent_id, str) or not agent_id or len(agent_id) > 100:
            raise ValidationError(
                f"agent_id: must be 1 to 100 characters, got {agent_id!r}", field="agent_id"
            )
        if isinstance(capabilities, str) or not all(isinstance(c, str) and c for c in capabilities):
            raise ValidationError(
                f"capabilities: must be a list of non-empty strings, got {capabilities!r}",
                field="capabilities",
            )
        if handler is None:
            unknown = [c for c in capabilities if c not in BUILT_IN]
            if unknown:
                raise ValidationError(
                    f"capabilities: {unknown} are not built in ({sorted(BUILT_IN)}); "
                    "give the agent a handler",
                    field="capabilities",
                )
        elif not callable(handler):
            raise ValidationError(f"handler: must be callable, got {handler!r}", field="handler")
        agent = _Agent(agent_id, list(capabilities), handler)
        with self._guard:
            self._agents[agent_id] = agent
            self._registry.register(f"agent:{agent_id}", _step_handler_class(self, agent))

    def _route(self, required: list[str]) -> list[tuple[str, _Agent]]:
        from ..memory import ValidationError

        if isinstance(required, str) or not required or not all(isinstance(c, str) for c in required):
            raise ValidationError(
                f"required_capabilities: must be a non-empty list of strings, got {required!r}",
                field="required_capabilities",
            )
        routes = []
        for capability in dict.fromkeys(required):
            able = [a for a in self._agents.values() if capability in a.capabilities]
            if not able:
                raise ValidationError(
                    f"required_capabilities: no agent has {capability!r}", field="required_capabilities"
                )
            routes.append((capability, min(able, key=lambda a: a.running + a.completed + a.failed)))
        return routes

    def _template(self, routes: list[tuple[str, _Agent]]) -> str:
        steps = [
            {
                "name": f"{capability}",
                "handler": {
                    "callable": f"agent:{agent.agent_id}",
                    "initialization": {"capability": capability},
                },
                "retry": {"max_attempts": self.max_attempts, "backoff_base_ms": 100},
            }
            for capability, agent in routes
        ]
        digest = hashlib.sha256(json.dumps(steps, sort_keys=True).encode()).hexdigest()[:16]
        name = f"orchestrated-{digest}"
        self._client.register_template({"name": name, "namespace_name": "orchestrator", "steps": steps})
        return name

    def _run(self, task: dict[str, Any], required: list[str]) -> dict[str, Any]:
        from ..memory import ValidationError

        if not isinstance(task, dict):
            raise ValidationError(f"task: must be a dict, got {type(task).__name__}", field="task")
        with self._guard:
            routes = self._route(list(required))
            for _, agent in routes:
                agent.running += 1
            if self._worker is None:
                self._worker = Worker(
                    self._registry, runtime=self._client.runtime, concurrency=8, poll_interval=0.01
                ).run_in_background()
        try:
            made = self._client.create_task(self._template(routes), namespace="orchestrator", context=task)
            done = self._client.wait_for_task(made.task_uuid, timeout=self.timeout)
        finally:
            with self._guard:
                for _, agent in routes:
                    agent.running -= 1
        results: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for (capability, agent), step in zip(routes, done.steps, strict=True):
            ok = step.current_state == "complete"
            with self._guard:
                agent.completed += ok
                agent.failed += not ok
                agent.last_task = done.task_uuid
            if ok:
                results[capability] = {"agent": agent.agent_id, **step.results["result"]}
            else:
                audit = self._client.get_step_audit_history(done.task_uuid, step.step_uuid)
                errors[capability] = next((a.error for a in reversed(audit) if a.error), step.current_state)
        outcome = {
            "success": done.status == "complete",
            "task_id": done.task_uuid,
            "status": done.status,
            "agents_involved": list(dict.fromkeys(agent.agent_id for _, agent in routes)),
            "results": results,
            "errors": errors,
        }
        metadata = {
            "type": task.get("type"),
            "success": outcome["success"],
            "agents": outcome["agents_involved"],
            "capabilities": [c for c, _ in routes],
            "errors": errors,
        }
        self.htm.store_embedding(f"orchestrator/{done.task_uuid}", _embedding(self.htm, task), metadata)
        return outcome

    async def coordinate_task(self, task: dict[str, Any], required_capabilities: list[str]) -> dict[str, Any]:
        """Runs one step per required capability, each by an agent that has it (the
        least used one), at once; answers `success`, `task_id`, `status`,
        `agents_involved`, `results` (by capability) and `errors` (by capability)."""
        return await asyncio.to_thread(self._run, task, required_capabilities)

    def get_agent_status(self) -> dict[str, dict[str, Any]]:
        """Each agent's `capabilities`, `status` (`idle` or `busy`), `tasks_completed`,
        `tasks_failed`, `last_task` and whether it runs `built_in` capabilities."""
        with self._guard:
            return {
                a.agent_id: {
                    "capabilities": list(a.capabilities),
                    "status": "busy" if a.running else "idle",
                    "tasks_completed": a.completed,
                    "tasks_failed": a.failed,
                    "last_task": a.last_task,
                    "built_in": a.handler is None,
                }
                for a in self._agents.values()
            }

    def close(self) -> None:
        """Stops the engine's worker and closes its storage."""
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        self._client.close()
