"""Flows run in this process, with no server: the engine `agentcell serve` runs (WIT
`flows`), driven from Python.

    engine = FlowEngine("flows.db")          # or FlowEngine() for memory only
    engine.register_agent("upper", lambda data: {"text": data["text"].upper()})
    engine.register_agent("scorer", endpoint="http://127.0.0.1:9000", allow=...)
    engine.create_flow({...})
    execution = engine.run("my_flow", {"text": "hi"})

Agents are Python callables (endpoint `local://<agent_id>`) or HTTP agents reached with
`POST {endpoint}/execute` through the engine's HTTP policy (deny by default: name the
hosts in `allow`). A callable takes the node's input dict (and the node's `config` dict
when it accepts a second argument) and returns the output dict; an exception fails the
node with its message. Async callables are awaited in the worker thread.

The component decides everything (validation, which nodes are due, merging inputs,
results, cancel, timeouts); this class only makes the calls it asks for, on a pool of
threads, so independent branches run at once. Answers and errors are the service's
(the same dicts and the same exceptions as `AISpine`).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

from .._twins import async_twin
from .._wasm import Ok, Runtime, send_request
from ..http import HttpPolicy
from .errors import AISpineError, APIError, AuthenticationError, TimeoutError, ValidationError
from .models import TERMINAL_STATUSES

__all__ = ["AgentFunction", "FlowEngine"]

Json = dict[str, Any]
AgentFunction = Callable[..., Any]

_LOCAL = "local://"


def _error_for(status: int, body: str) -> AISpineError:
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        parsed = {"detail": body}
    detail = parsed.get("detail") if isinstance(parsed, dict) else None
    if isinstance(detail, list):  # FastAPI-style 422: [{loc, msg, type}]
        message = "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}"
            for d in detail
            if isinstance(d, dict)
        )
    else:
        message = str(detail) if detail is not None else f"HTTP {status}"
    details = parsed if isinstance(parsed, dict) else {}
    if status in (400, 409, 422):
        return ValidationError(message, details)
    if status == 401:
        return AuthenticationError(message, details)
    return APIError(message, status_code=status, response_body=body, details=details)


def _takes_config(fn: AgentFunction) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


class _LocalAgent:
    def __init__(self, fn: AgentFunction) -> None:
        self.fn = fn
        self.with_config = _takes_config(fn)
        self.is_async = inspect.iscoroutinefunction(fn)

    def answer(self, body: str | None) -> Json:
        """The HTTP response an agent server would give for this call."""
        call = json.loads(body or "{}")
        args = (
            (call.get("input", {}), call.get("config", {})) if self.with_config else (call.get("input", {}),)
        )
        try:
            output = asyncio.run(self.fn(*args)) if self.is_async else self.fn(*args)
            if inspect.isawaitable(output):
                output = asyncio.run(_await(output))
        except Exception as e:  # the agent's failure is the node's, not the engine's
            reply: Json = {"status": "error", "error_message": f"{type(e).__name__}: {e}"}
            return _response(200, reply)
        if output is None:
            output = {}
        if not isinstance(output, dict):
            reply = {"status": "error", "error_message": f"returned {type(output).__name__}, not a dict"}
            return _response(200, reply)
        try:
            return _response(200, {"status": "success", "output": output})
        except (TypeError, ValueError) as e:
            return _response(200, {"status": "error", "error_message": f"output is not JSON: {e}"})


async def _await(value: Any) -> Any:
    return await value


def _response(status: int, body: Json) -> Json:
    text = json.dumps(body, allow_nan=False)
    return {
        "status": status,
        "headers": [("content-type", "application/json")],
        "body": text,
        "body_encoding": "utf8",
    }


class FlowEngine:
    """Flows, agents and executions kept in `storage` (a SQLite file path, or memory when
    None) and run in this process.

    Args:
        storage: where flows, agents and executions are kept (`None`: in memory).
        allow: hosts HTTP agents may be reached at (the `HttpPolicy` allow-list).
        timeout: the longest one HTTP agent call may take, in seconds.
        max_workers: agent calls made at once.
        runtime: an existing runtime to use instead (its storage and HTTP policy).
        recover_after: at start, executions left pending or running and unchanged for
            this many seconds (by a process that died) are marked failed with a reason;
            `None` skips it. The default (longer than any agent call) is safe when
            several processes share the file.
    """

    def __init__(
        self,
        storage: str | Path | None = None,
        *,
        allow: tuple[str, ...] | list[str] = (),
        timeout: float = 30.0,
        max_workers: int = 8,
        runtime: Runtime | None = None,
        recover_after: float | None = 60.0,
    ) -> None:
        if max_workers < 1:
            raise ValidationError(f"max_workers: must be at least 1, got {max_workers}")
        try:
            policy = HttpPolicy(allow=allow, timeout=timeout)
        except ValueError as e:
            raise ValidationError(str(e)) from e
        self._owns_runtime = runtime is None
        self.runtime = runtime or Runtime(":memory:" if storage is None else storage, policy)
        self.policy = self.runtime.http if runtime is not None else policy
        self._flows = self.runtime.exports.flows
        self._local: dict[str, _LocalAgent] = {}
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="agentcell-flows")
        self._in_flight: dict[str, int] = {}
        self._changed = threading.Condition()
        self.recovered = 0 if recover_after is None else self.recover(recover_after)

    # --- the service, in process

    def _request(self, method: str, path: str, body: Json | None = None) -> Any:
        text = "" if body is None else json.dumps(body, allow_nan=False)
        answer = self._flows.handle(
            {
                "method": method,
                "path": path,
                "content_type": None if body is None else "application/json",
                "body": text,
            }
        )
        self._dispatch(answer["calls"])
        response = answer["response"]
        if response["status"] >= 300:
            raise _error_for(response["status"], response["body"])
        return json.loads(response["body"]) if response["body"] else None

    def _dispatch(self, calls: list[Any]) -> None:
        for call in calls:
            with self._changed:
                exec_id = call["execution_id"]
                self._in_flight[exec_id] = self._in_flight.get(exec_id, 0) + 1
            self._pool.submit(self._make_call, call)

    def _make_call(self, call: Any) -> None:
        request = call["request"]
        if call["delay_ms"]:  # the agent asked for a pause (429 with Retry-After)
            time.sleep(call["delay_ms"] / 1000)
        answer: Any
        url: str = request["url"]
        if url.startswith(_LOCAL):
            agent_id = urlsplit(url).netloc
            local = self._local.get(agent_id)
            if local is None:
                answer = Ok(_response(404, {"detail": f"no local agent {agent_id!r} in this engine"}))
            else:
                answer = Ok(local.answer(request["body"]))
        else:
            answer = send_request(self.policy, request)
        try:
            self._dispatch(self._flows.deliver(call["execution_id"], call["node_id"], answer))
        finally:
            with self._changed:
                exec_id = call["execution_id"]
                self._in_flight[exec_id] -= 1
                if self._in_flight[exec_id] == 0:
                    del self._in_flight[exec_id]
                self._changed.notify_all()

    # --- agents

    def register_agent(
        self,
        agent_id: str,
        fn: AgentFunction | None = None,
        *,
        endpoint: str | None = None,
        name: str | None = None,
        description: str = "",
        capabilities: list[str] | tuple[str, ...] = (),
        agent_type: str = "processor",
    ) -> Json:
        """Registers a Python callable (`fn`) or an HTTP agent (`endpoint`) as `agent_id`."""
        if (fn is None) == (endpoint is None):
            raise ValidationError("register_agent: give exactly one of fn (a callable) or endpoint (a URL)")
        if fn is not None and not callable(fn):
            raise ValidationError(f"fn: must be callable, got {type(fn).__name__}")
        config = {
            "agent_id": agent_id,
            "name": name or agent_id,
            "description": description,
            "endpoint": endpoint if endpoint is not None else f"{_LOCAL}{agent_id}",
            "capabilities": list(capabilities),
            "agent_type": agent_type,
        }
        if fn is not None:
            # Registered before the service sees it, so no call can find it missing.
            self._local[agent_id] = _LocalAgent(fn)
        try:
            agent: Json = self._request("POST", "/agents", config)
        except AISpineError:
            if fn is not None:
                self._local.pop(agent_id, None)
            raise
        return agent

    def agent(self, agent_id: str, **options: Any) -> Callable[[AgentFunction], AgentFunction]:
        """Decorator: `@engine.agent("upper")` registers the function as an agent."""

        def register(fn: AgentFunction) -> AgentFunction:
            self.register_agent(agent_id, fn, **options)
            return fn

        return register

    def list_agents(self) -> list[Json]:
        agents: list[Json] = self._request("GET", "/agents")["agents"]
        return agents

    def delete_agent(self, agent_id: str) -> bool:
        """`True` once deleted, `False` when there was no such agent."""
        try:
            self._request("DELETE", f"/agents/{quote(agent_id, safe='')}")
        except APIError as e:
            if e.status_code == 404:
                return False
            raise
        self._local.pop(agent_id, None)
        return True

    # --- flows

    def create_flow(self, flow: Json) -> Json:
        """Stores a flow; `ValidationError` naming the node and the rule it breaks."""
        created: Json = self._request("POST", "/flows", flow)
        return created

    def get_flow(self, flow_id: str) -> Json:
        found: Json = self._request("GET", f"/flows/{quote(flow_id, safe='')}")
        return found

    def list_flows(self) -> list[Json]:
        flows: list[Json] = self._request("GET", "/flows")["flows"]
        return flows

    def delete_flow(self, flow_id: str) -> None:
        self._request("DELETE", f"/flows/{quote(flow_id, safe='')}")

    # --- executions

    def execute(
        self, flow_id: str, input_data: Json, metadata: Json | None = None, *, timeout: float | None = None
    ) -> Json:
        """Starts a run and returns at once (`execution_id`, `status`); the agents are
        called on the engine's threads. `timeout` (seconds) bounds the whole run."""
        body: Json = {"flow_id": flow_id, "input_data": input_data}
        if metadata is not None:
            body["metadata"] = metadata
        if timeout is not None:
            body["timeout"] = timeout
        started: Json = self._request("POST", "/flows/execute", body)
        if started.get("status") == "failed":  # upstream's answer for an unknown flow
            raise APIError(str(started.get("error")), status_code=404, details=started)
        return started

    def run(
        self, flow_id: str, input_data: Json, metadata: Json | None = None, *, timeout: float | None = None
    ) -> Json:
        """Runs the flow to its end and returns the execution (`status` is `completed`,
        `failed` or `cancelled`; `output_data` holds the exit points' outputs)."""
        started = self.execute(flow_id, input_data, metadata, timeout=timeout)
        return self.wait(started["execution_id"])

    def wait(self, execution_id: str, timeout: float | None = None, interval: float = 0.05) -> Json:
        """Returns the execution once it has ended; `TimeoutError` after `timeout` seconds.
        Runs of this engine are followed call by call; one started by another process
        sharing the storage is polled every `interval` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        with self._changed:
            self._changed.wait_for(lambda: execution_id not in self._in_flight, left())
        while True:
            execution = self.get_execution(execution_id)
            if execution.get("status") in TERMINAL_STATUSES:
                return execution
            remaining = left()
            if remaining == 0.0:
                raise TimeoutError(
                    f"Execution {execution_id} still {execution.get('status')} after {timeout:g} seconds",
                    timeout=timeout,
                    details=execution,
                )
            time.sleep(interval if remaining is None else min(interval, remaining))

    def get_execution(self, execution_id: str) -> Json:
        found: Json = self._request("GET", f"/executions/{quote(execution_id, safe='')}")
        return found

    def node_results(self, execution_id: str) -> list[Json]:
        """Each node's run: status, input, output, error, time."""
        found: list[Json] = self._request("GET", f"/executions/{quote(execution_id, safe='')}/results")[
            "node_results"
        ]
        return found

    def list_executions(self, flow_id: str | None = None, limit: int = 100, offset: int = 0) -> list[Json]:
        query = f"?limit={int(limit)}&offset={int(offset)}"
        if flow_id is not None:
            query += f"&flow_id={quote(flow_id, safe='')}"
        found: list[Json] = self._request("GET", f"/executions{query}")["executions"]
        return found

    def cancel_execution(self, execution_id: str) -> Json:
        """Stops the run: no later answer changes it, no further agent is called."""
        answer: Json = self._request("POST", f"/executions/{quote(execution_id, safe='')}/cancel")
        return answer

    def get_metrics(self) -> Json:
        metrics: Json = self._request("GET", "/metrics")
        return metrics

    def recover(self, idle_seconds: float) -> int:
        """Marks failed, with a reason, every execution left pending or running and
        unchanged for `idle_seconds`; returns how many."""
        return int(self._flows.recover(max(0, int(idle_seconds * 1000))))

    run_async = async_twin(run)
    wait_async = async_twin(wait)

    def close(self) -> None:
        """Waits for the calls in flight, then closes the runtime it made."""
        self._pool.shutdown(wait=True)
        if self._owns_runtime:
            self.runtime.close()

    def __enter__(self) -> FlowEngine:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
