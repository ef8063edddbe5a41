"""Clients of the AI Spine HTTP API (`agentcell serve`, or upstream's backend).

    with AISpine(api_key="sk_...", base_url="http://127.0.0.1:8080") as client:
        started = client.execute_flow("credit_analysis", {"amount": 50000})
        execution = client.wait_for_execution(started["execution_id"])

The names, arguments, results and exceptions are the official `ai-spine-sdk`'s; the
component builds every request and reads every answer (WIT `flows-client`), so what
this client does better lives in one place: only requests that are safe to repeat are
retried (an execute is sent again only after a 429, which refused it before it ran),
`Retry-After` is honoured, the error is read from `detail`, `message` or `error`, the
error after the last retry is the real one, and `wait_for_execution` stops on
`cancelled`. `AsyncAISpine` has the same methods as coroutines.

Differences from the official SDK: `base_url` defaults to a local `agentcell serve`
(`http://127.0.0.1:8080`), not a hosted service; the API key is optional (the server
decides; `agentcell serve` asks for one by default); the hosted service's user, key and
credits methods do not exist here.
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

from .._exchange import ClientConfig, Exchange, Interpret, Prepare, run_async, run_sync
from .._wasm import Err, Runtime
from .errors import ExecutionError, TimeoutError, ValidationError, error_from_failure
from .models import TERMINAL_STATUSES

__all__ = ["DEFAULT_BASE_URL", "AISpine", "AsyncAISpine", "Client"]

DEFAULT_BASE_URL = "http://127.0.0.1:8080"

Json = dict[str, Any]


def _interface(runtime: Runtime) -> tuple[Prepare, Interpret]:
    client = runtime.exports.flows_client

    def prepare(config: ClientConfig, op: Any) -> Any:
        result = client.prepare(config, op)
        if isinstance(result, Err):
            raise error_from_failure(result.value)
        return result.value

    def interpret(config: ClientConfig, op: Any, attempt: int, answer: Any) -> Any:
        result = client.interpret(config, op, attempt, answer)
        if isinstance(result, Err):
            raise error_from_failure(result.value)
        return result.value

    return prepare, interpret


def _exchange(
    api_key: str | None, base_url: str | None, timeout: float, max_retries: int, runtime: Runtime | None
) -> Exchange:
    if api_key is not None and not isinstance(api_key, str):
        raise ValidationError(f"api_key: must be a string, got {type(api_key).__name__}")
    url = (base_url or DEFAULT_BASE_URL).rstrip("/")
    try:
        return Exchange(url, api_key or None, timeout, max_retries, runtime, _interface)
    except ValueError as e:
        raise ValidationError(str(e)) from e


def _json_text(name: str, value: Any) -> str:
    if not isinstance(value, dict):
        raise ValidationError(f"{name}: must be a dict (a JSON object), got {type(value).__name__}")
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValidationError(f"{name}: cannot be sent as JSON: {e}") from e


def _op_execute(flow_id: str, input_data: Json, metadata: Json | None) -> Any:
    return (
        "execute-flow",
        {
            "flow_id": flow_id,
            "input_json": _json_text("input_data", input_data),
            "metadata_json": None if metadata is None else _json_text("metadata", metadata),
        },
    )


def _id(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{name}: must be a string, got {type(value).__name__}")
    return value


def _finished(execution_id: str, execution: Json) -> Json | None:
    """The execution once it has ended; `ExecutionError` when it failed."""
    status = execution.get("status")
    if status not in TERMINAL_STATUSES:
        return None
    if status == "failed":
        message = execution.get("error_message") or "Execution failed"
        raise ExecutionError(str(message), execution_id=execution_id, details=execution)
    return execution


def _wait_settings(timeout: float, interval: float) -> None:
    for name, value in (("timeout", timeout), ("interval", interval)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValidationError(f"{name}: must be a positive number of seconds, got {value!r}")


def _timed_out(execution_id: str, timeout: float, last: Json | None) -> TimeoutError:
    return TimeoutError(
        f"Execution {execution_id} timed out after {timeout:g} seconds", timeout=timeout, details=last
    )


class AISpine:
    """The AI Spine client (`Client` is an alias).

    Args:
        api_key: sent as `Authorization: Bearer <key>`.
        base_url: the service, e.g. `http://127.0.0.1:8080` or `.../api/v1`.
        timeout: seconds per request.
        max_retries: retries after the first attempt (safe requests only).
        debug: kept for the official SDK's signature; requests are not logged.
        runtime: the agentcell runtime to use (one is made, with no storage, if not given).
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 30,
        max_retries: int = 3,
        debug: bool = False,
        *,
        runtime: Runtime | None = None,
    ) -> None:
        self._exchange = _exchange(api_key, base_url, timeout, max_retries, runtime)
        self.api_key = api_key
        self.base_url = self._exchange.config["base_url"]
        self.timeout = timeout
        self.debug = debug

    def _run(self, op: Any) -> Any:
        return json.loads(run_sync(self._exchange, op))

    # --- executions

    def execute_flow(self, flow_id: str, input_data: Json, metadata: Json | None = None) -> Json:
        """Starts a run of `flow_id` (`POST /flows/execute`); answers at once with the
        `execution_id` and the status. `ValidationError` for an empty flow id or input
        that is not a dict, before anything is sent."""
        result: Json = self._run(_op_execute(_id("flow_id", flow_id), input_data, metadata))
        return result

    def get_execution(self, execution_id: str) -> Json:
        """The execution; `APIError` (404) when there is none."""
        result: Json = self._run(("get-execution", _id("execution_id", execution_id)))
        return result

    def wait_for_execution(self, execution_id: str, timeout: float = 300, interval: float = 2) -> Json:
        """Polls every `interval` seconds until the execution has ended and returns it:
        `completed` or `cancelled`; `failed` raises `ExecutionError` (its message is the
        execution's `error_message`); still running after `timeout` seconds raises
        `TimeoutError`."""
        _wait_settings(timeout, interval)
        deadline = time.monotonic() + timeout
        while True:
            execution = self.get_execution(execution_id)
            done = _finished(execution_id, execution)
            if done is not None:
                return done
            left = deadline - time.monotonic()
            if left <= 0:
                raise _timed_out(execution_id, timeout, execution)
            time.sleep(min(interval, left))

    def execute_and_wait(
        self,
        flow_id: str,
        input_data: Json,
        metadata: Json | None = None,
        timeout: float = 300,
        interval: float = 2,
    ) -> Json:
        """`execute_flow`, then `wait_for_execution`."""
        _wait_settings(timeout, interval)
        started = self.execute_flow(flow_id, input_data, metadata)
        return self.wait_for_execution(started["execution_id"], timeout, interval)

    def cancel_execution(self, execution_id: str) -> Json:
        """Stops a pending or running execution; `APIError` (404) when it is not running."""
        result: Json = self._run(("cancel-execution", _id("execution_id", execution_id)))
        return result

    def list_executions(self, flow_id: str | None = None) -> list[Json]:
        """Executions, newest first, optionally of one flow."""
        result: list[Json] = self._run(("list-executions", flow_id))
        return result

    # --- flows

    def list_flows(self) -> list[Json]:
        result: list[Json] = self._run(("list-flows", None))
        return result

    def get_flow(self, flow_id: str) -> Json:
        """The flow definition; `APIError` (404) when there is none."""
        result: Json = self._run(("get-flow", _id("flow_id", flow_id)))
        return result

    def create_flow(self, flow: Json) -> Json:
        """Stores a flow definition, validated by the service (`ValidationError` naming the
        node and the rule it breaks)."""
        result: Json = self._run(("create-flow", _json_text("flow", flow)))
        return result

    # --- agents

    def list_agents(self) -> list[Json]:
        result: list[Json] = self._run(("list-agents", None))
        return result

    def create_agent(self, agent_config: Json) -> Json:
        """Registers an agent (`agent_id`, `name`, `description`, `endpoint`,
        `capabilities`, `agent_type`)."""
        if not agent_config:
            raise ValidationError("agent_config: cannot be empty")
        result: Json = self._run(("create-agent", _json_text("agent_config", agent_config)))
        return result

    def delete_agent(self, agent_id: str) -> bool:
        """`True` once deleted, `False` when there was no such agent."""
        return bool(self._run(("delete-agent", _id("agent_id", agent_id))))

    # --- system

    def health_check(self) -> Json:
        result: Json = self._run(("health", None))
        return result

    def get_metrics(self) -> Json:
        """The eight execution metrics, computed from the stored executions."""
        result: Json = self._run(("metrics", None))
        return result

    def get_status(self) -> Json:
        result: Json = self._run(("status", None))
        return result

    def close(self) -> None:
        """Closes the runtime the client made (not one it was given)."""
        self._exchange.close()

    def __enter__(self) -> AISpine:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


Client = AISpine


class AsyncAISpine:
    """`AISpine` with every method a coroutine: `async with AsyncAISpine(...) as client:`.
    Requests wait on the network in worker threads, so many can be in flight at once."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 30,
        max_retries: int = 3,
        debug: bool = False,
        *,
        max_connections: int = 100,
        runtime: Runtime | None = None,
    ) -> None:
        self._exchange = _exchange(api_key, base_url, timeout, max_retries, runtime)
        self._pool = ThreadPoolExecutor(max_workers=max_connections, thread_name_prefix="ai-spine-client")
        self.api_key = api_key
        self.base_url = self._exchange.config["base_url"]
        self.timeout = timeout
        self.debug = debug

    async def _run(self, op: Any) -> Any:
        return json.loads(await run_async(self._exchange, self._pool, op))

    async def execute_flow(self, flow_id: str, input_data: Json, metadata: Json | None = None) -> Json:
        result: Json = await self._run(_op_execute(_id("flow_id", flow_id), input_data, metadata))
        return result

    async def get_execution(self, execution_id: str) -> Json:
        result: Json = await self._run(("get-execution", _id("execution_id", execution_id)))
        return result

    async def wait_for_execution(self, execution_id: str, timeout: float = 300, interval: float = 2) -> Json:
        _wait_settings(timeout, interval)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            execution = await self.get_execution(execution_id)
            done = _finished(execution_id, execution)
            if done is not None:
                return done
            left = deadline - loop.time()
            if left <= 0:
                raise _timed_out(execution_id, timeout, execution)
            await asyncio.sleep(min(interval, left))

    async def execute_and_wait(
        self,
        flow_id: str,
        input_data: Json,
        metadata: Json | None = None,
        timeout: float = 300,
        interval: float = 2,
    ) -> Json:
        _wait_settings(timeout, interval)
        started = await self.execute_flow(flow_id, input_data, metadata)
        return await self.wait_for_execution(started["execution_id"], timeout, interval)

    async def cancel_execution(self, execution_id: str) -> Json:
        result: Json = await self._run(("cancel-execution", _id("execution_id", execution_id)))
        return result

    async def list_executions(self, flow_id: str | None = None) -> list[Json]:
        result: list[Json] = await self._run(("list-executions", flow_id))
        return result

    async def list_flows(self) -> list[Json]:
        result: list[Json] = await self._run(("list-flows", None))
        return result

    async def get_flow(self, flow_id: str) -> Json:
        result: Json = await self._run(("get-flow", _id("flow_id", flow_id)))
        return result

    async def create_flow(self, flow: Json) -> Json:
        result: Json = await self._run(("create-flow", _json_text("flow", flow)))
        return result

    async def list_agents(self) -> list[Json]:
        result: list[Json] = await self._run(("list-agents", None))
        return result

    async def create_agent(self, agent_config: Json) -> Json:
        if not agent_config:
            raise ValidationError("agent_config: cannot be empty")
        result: Json = await self._run(("create-agent", _json_text("agent_config", agent_config)))
        return result

    async def delete_agent(self, agent_id: str) -> bool:
        return bool(await self._run(("delete-agent", _id("agent_id", agent_id))))

    async def health_check(self) -> Json:
        result: Json = await self._run(("health", None))
        return result

    async def get_metrics(self) -> Json:
        result: Json = await self._run(("metrics", None))
        return result

    async def get_status(self) -> Json:
        result: Json = await self._run(("status", None))
        return result

    async def aclose(self) -> None:
        """Stops the client's threads and closes the runtime it made (not one it was given)."""
        self._pool.shutdown(wait=False)
        self._exchange.close()

    async def __aenter__(self) -> AsyncAISpine:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
