"""The AI Spine benchmark's baseline: a minimal FastAPI server with the routes the
benchmark calls, shaped as upstream's backend is in development mode (pydantic bodies,
state in process dictionaries, each execution a background asyncio task running its
nodes one after another in dependency order, each agent call a fresh `httpx.AsyncClient`
with a 30 s timeout), with Bearer keys checked as with `API_KEY_REQUIRED=true`.

Written for the benchmark (upstream's backend needs a checkout and its own dependency
set); run by benches/flows.py under uvicorn with one worker:

    python -m uvicorn --app-dir benches aispine_fastapi_stub:app --workers 1
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import datetime, timezone
from typing import Any

import httpx
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

KEYS = {os.environ.get("STUB_API_KEY", "sk_bench")}
bearer = HTTPBearer(auto_error=False)
app = FastAPI(title="AI Spine baseline stub")


def require_key(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> str:  # noqa: B008
    if credentials is None:
        raise HTTPException(401, "Missing API key", headers={"WWW-Authenticate": "Bearer"})
    if credentials.credentials not in KEYS:
        raise HTTPException(401, "Invalid API key", headers={"WWW-Authenticate": "Bearer"})
    return credentials.credentials


class Node(BaseModel):
    id: str
    type: str
    agent_id: str | None = None
    depends_on: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)


class FlowDefinition(BaseModel):
    flow_id: str
    name: str
    description: str = ""
    version: str = "1.0.0"
    nodes: list[Node]
    entry_point: str
    exit_points: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class Agent(BaseModel):
    agent_id: str
    name: str
    description: str = ""
    endpoint: str
    capabilities: list[str] = Field(default_factory=list)
    agent_type: str = "processor"
    is_active: bool = True


class ExecutionRequest(BaseModel):
    flow_id: str
    input_data: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


FLOWS: dict[str, FlowDefinition] = {}
AGENTS: dict[str, Agent] = {}
EXECUTIONS: dict[str, dict[str, Any]] = {}


def now() -> str:
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat()


def order(flow: FlowDefinition) -> list[Node]:
    """Dependency order (Kahn's algorithm)."""
    placed: list[Node] = []
    done: set[str] = set()
    while len(placed) < len(flow.nodes):
        ready = [n for n in flow.nodes if n.id not in done and all(d in done for d in n.depends_on)]
        if not ready:
            raise ValueError("cycle")
        for n in ready:
            placed.append(n)
            done.add(n.id)
    return placed


@app.get("/health")
async def health() -> dict[str, Any]:
    return {"status": "healthy", "timestamp": now(), "message": "baseline stub", "startup_complete": True}


@app.get("/flows")
async def list_flows(_key: str = Depends(require_key)) -> dict[str, Any]:
    return {"flows": [f.model_dump() for f in FLOWS.values()], "count": len(FLOWS)}


@app.post("/flows")
async def create_flow(flow: FlowDefinition, _key: str = Depends(require_key)) -> dict[str, Any]:
    FLOWS[flow.flow_id] = flow
    return flow.model_dump()


@app.post("/agents")
async def create_agent(agent: Agent, _key: str = Depends(require_key)) -> dict[str, Any]:
    AGENTS[agent.agent_id] = agent
    return agent.model_dump()


async def run(execution_id: str, flow: FlowDefinition) -> None:
    execution = EXECUTIONS[execution_id]
    execution["status"] = "running"
    outputs: dict[str, dict[str, Any]] = {}
    for node in order(flow):
        data = dict(execution["input_data"])
        for dep in node.depends_on:
            data.update(outputs.get(dep, {}))
        if node.agent_id is None:
            outputs[node.id] = data
            continue
        agent = AGENTS[node.agent_id]
        call = {"execution_id": execution_id, "node_id": node.id, "input": data, "config": node.config}
        try:
            async with httpx.AsyncClient(timeout=30.0) as client:
                response = await client.post(f"{agent.endpoint}/execute", json=call)
                response.raise_for_status()
                outputs[node.id] = response.json().get("output", {})
        except Exception as e:  # the node fails the execution
            execution.update(status="failed", error_message=str(e), updated_at=now(), completed_at=now())
            return
    result = {exit_point: outputs.get(exit_point, {}) for exit_point in flow.exit_points}
    execution.update(status="completed", output_data=result, updated_at=now(), completed_at=now())


@app.post("/flows/execute")
async def execute(request: ExecutionRequest, _key: str = Depends(require_key)) -> dict[str, Any]:
    flow = FLOWS.get(request.flow_id)
    if flow is None:
        return {"execution_id": str(uuid.UUID(int=0)), "status": "failed", "error": "Flow not found"}
    execution_id = str(uuid.uuid4())
    stamp = now()
    EXECUTIONS[execution_id] = {
        "execution_id": execution_id,
        "flow_id": flow.flow_id,
        "status": "pending",
        "input_data": request.input_data,
        "output_data": None,
        "error_message": None,
        "created_at": stamp,
        "updated_at": stamp,
        "completed_at": None,
    }
    asyncio.create_task(run(execution_id, flow))  # noqa: RUF006 - as upstream: fire and forget
    return {"execution_id": execution_id, "status": "pending", "result": None, "error": None}


@app.get("/executions/{execution_id}")
async def get_execution(execution_id: uuid.UUID, _key: str = Depends(require_key)) -> dict[str, Any]:
    execution = EXECUTIONS.get(str(execution_id))
    if execution is None:
        raise HTTPException(404, f"Execution '{execution_id}' not found")
    return execution
