"""AI Spine end to end: `agentcell serve` as a separate process, real agent servers on
loopback, driven by `agentcell.flows.AISpine` / `AsyncAISpine`."""

from __future__ import annotations

import asyncio
import builtins
import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentcell.flows import (
    AISpine,
    APIError,
    AsyncAISpine,
    AuthenticationError,
    Client,
    Execution,
    ExecutionError,
    Flow,
    NetworkError,
    RateLimitError,
    TimeoutError,
    ValidationError,
)

from .agents import AgentServer, agent, agent_server, chain, diamond
from .conftest import AGENTCELL, KEY, Server


@pytest.fixture(scope="module")
def agents() -> Iterator[AgentServer]:
    with agent_server() as server:
        yield server


def spine_server(data: Path, *extra: str) -> Server:
    return Server(data, "--rate-limit", "0", "--allow-agent", "127.0.0.1", *extra)


@pytest.fixture
def spine(tmp_path: Path) -> Iterator[Server]:
    s = spine_server(tmp_path / "data")
    yield s
    if s.proc.poll() is None:
        s.stop()


@pytest.fixture
def client(spine: Server) -> Iterator[AISpine]:
    with AISpine(api_key=KEY, base_url=spine.base) as c:
        yield c


def register(client: AISpine, agents: AgentServer, **behaviours: str) -> None:
    for agent_id, behaviour in behaviours.items():
        client.create_agent(agent(agent_id, agents.endpoint(behaviour)))


def test_a_diamond_runs_its_branches_at_once_and_merges_as_upstream(
    client: AISpine, agents: AgentServer
) -> None:
    register(client, agents, zoe="ok-zoe", left="slow400-left", right="slow400-right")
    created = client.create_flow(diamond("credit", "zoe", "left", "right"))
    assert Flow.from_dict(created).exit_points == ["d"]
    assert [f["flow_id"] for f in client.list_flows()] == ["credit"]

    started = client.execute_flow("credit", {"amount": 50000, "n": 0}, metadata={"who": "test"})
    assert started["status"] in ("pending", "running") and len(started["execution_id"]) == 36
    done = client.wait_for_execution(started["execution_id"], timeout=10, interval=0.05)
    execution = Execution.from_dict(done)
    assert execution.status == "completed" and execution.is_terminal
    assert execution.completed_at is not None and execution.error_message is None
    # d (no agent) passes on its input: the execution's input updated with b's output,
    # then c's (depends_on order), so c's `last` wins; a's output reached b and c only.
    result = done["output_data"]["d"]
    assert result["amount"] == 50000 and result["left"] is True and result["right"] is True
    assert result["last"] == "right" and result["n"] == 2 and "zoe" not in result
    # The two branches overlapped in time (upstream runs them one after the other).
    left, right = agents.seen("slow400-left")[-1], agents.seen("slow400-right")[-1]
    assert left.started < right.ended and right.started < left.ended
    assert left.body["config"] == {"k": 1} and left.body["node_id"] == "b"
    assert left.body["input"]["zoe"] is True

    metrics = client.get_metrics()
    assert set(metrics) == {
        "total_executions",
        "successful_executions",
        "failed_executions",
        "cancelled_executions",
        "running_executions",
        "average_execution_time",
        "total_execution_time",
        "last_execution",
    }
    assert (metrics["total_executions"], metrics["successful_executions"]) == (1, 1)
    assert 0.4 <= metrics["average_execution_time"] < 5
    assert client.list_executions("credit")[0]["execution_id"] == started["execution_id"]
    status = client.get_status()
    assert status["agents"] == {"total": 3, "active": 3} and status["flows"] == {"total": 1}


def test_failures_are_typed_and_name_the_agent(client: AISpine, agents: AgentServer) -> None:
    register(client, agents, zoe="ok-zoe", broken="fail", sulky="error")
    client.create_flow(chain("broken", "zoe", "broken", "zoe"))
    client.create_flow(chain("sulky", "sulky"))
    started = client.execute_flow("broken", {})
    with pytest.raises(ExecutionError) as failed:
        client.wait_for_execution(started["execution_id"], timeout=10, interval=0.05)
    assert str(failed.value) == "Agent 'broken' answered HTTP 500: boom"
    assert failed.value.execution_id == started["execution_id"]
    assert failed.value.details["status"] == "failed"
    with pytest.raises(ExecutionError, match="reported an error: no credit data"):
        client.execute_and_wait("sulky", {}, timeout=10, interval=0.05)

    with pytest.raises(APIError) as missing:
        client.get_execution("6f1c1e9a-9b7e-4c59-8f0e-2d7a3c1b5e40")
    assert missing.value.status_code == 404 and "not found" in str(missing.value)
    with pytest.raises(APIError) as no_flow:
        client.get_flow("nope")
    assert no_flow.value.status_code == 404
    assert client.delete_agent("nobody") is False and client.delete_agent("sulky") is True


def test_bad_input_is_refused_before_sending(client: AISpine) -> None:
    with pytest.raises(ValidationError):
        client.execute_flow("credit", None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        client.execute_flow("", {})
    with pytest.raises(ValidationError, match="input_data"):
        client.execute_flow("credit", {"x": {1, 2}})
    with pytest.raises(ValidationError):
        client.create_agent({})
    with pytest.raises(ValidationError):
        client.wait_for_execution("x", timeout=0)
    # The service's own validation, read from FastAPI's `detail`.
    with pytest.raises(ValidationError, match="node 'b': depends on 'zz'"):
        client.create_flow(
            {
                "flow_id": "bad",
                "name": "bad",
                "nodes": [{"id": "a", "type": "input"}, {"id": "b", "type": "output", "depends_on": ["zz"]}],
                "entry_point": "a",
            }
        )


def test_credentials_network_and_rate_limits(spine: Server, tmp_path: Path) -> None:
    with AISpine(api_key="sk_wrong", base_url=spine.base) as wrong, pytest.raises(AuthenticationError):
        wrong.list_flows()
    with (
        AISpine(base_url=spine.base) as anonymous,
        pytest.raises(AuthenticationError, match="Missing API key"),
    ):
        anonymous.get_execution("6f1c1e9a-9b7e-4c59-8f0e-2d7a3c1b5e40")
    # Public: AI Spine's health under /api/v1.
    with AISpine(base_url=spine.base + "/api/v1") as anonymous:
        assert anonymous.health_check()["status"] == "healthy"
    with AISpine(api_key=KEY, base_url="http://127.0.0.1:9", max_retries=1) as nowhere:
        with pytest.raises(NetworkError):
            nowhere.list_flows()
        with pytest.raises(NetworkError):  # an execute is never retried on a network error
            nowhere.execute_flow("credit", {})

    limited = Server(tmp_path / "limited", "--rate-limit", "2")
    try:
        with AISpine(api_key=KEY, base_url=limited.base, max_retries=0) as c:
            with pytest.raises(RateLimitError) as slow_down:
                for _ in range(5):
                    c.list_flows()
            assert isinstance(slow_down.value.retry_after, int) and slow_down.value.retry_after >= 1
    finally:
        limited.stop()


def test_an_agent_answering_429_is_called_again_after_retry_after(
    client: AISpine, agents: AgentServer
) -> None:
    register(client, agents, busy="busy")
    client.create_flow(chain("busy", "busy"))
    done = client.execute_and_wait("busy", {"n": 1}, timeout=10, interval=0.05)
    assert done["status"] == "completed" and done["output_data"]["n0"]["busy"] is True
    calls = [c for c in agents.seen("busy") if c.body["execution_id"] == done["execution_id"]]
    assert len(calls) == 2 and calls[1].started - calls[0].started >= 0.9


def test_cancel_stops_the_run_and_later_answers_change_nothing(client: AISpine, agents: AgentServer) -> None:
    register(client, agents, slow="slow700-slow", after="ok-after")
    client.create_flow(chain("cancel", "slow", "after"))
    started = client.execute_flow("cancel", {})
    time.sleep(0.2)
    assert client.cancel_execution(started["execution_id"]) == {"message": "Execution cancelled successfully"}
    # wait_for_execution stops on cancelled (the official SDKs poll on to their timeout).
    assert (
        client.wait_for_execution(started["execution_id"], timeout=5, interval=0.05)["status"] == "cancelled"
    )
    time.sleep(1.0)  # the slow agent has answered by now
    final = client.get_execution(started["execution_id"])
    assert (final["status"], final["error_message"]) == ("cancelled", "Execution cancelled by user")
    assert not [c for c in agents.seen("ok-after") if c.body["execution_id"] == started["execution_id"]]
    with pytest.raises(APIError) as again:
        client.cancel_execution(started["execution_id"])
    assert again.value.status_code == 404
    assert client.get_metrics()["cancelled_executions"] == 1


def test_the_timeout_of_an_execution_is_enforced(spine: Server, client: AISpine, agents: AgentServer) -> None:
    register(client, agents, slow="slow1500-slow")
    client.create_flow(chain("late", "slow"))
    status, started, _ = spine.request(
        "POST", "/flows/execute", {"flow_id": "late", "input_data": {}, "timeout": 0.3}
    )
    assert status == 200
    with pytest.raises(ExecutionError, match=r"did not answer in time|timed out"):
        client.wait_for_execution(started["execution_id"], timeout=5, interval=0.05)


def test_wait_for_execution_times_out_with_the_sdks_error(client: AISpine, agents: AgentServer) -> None:
    register(client, agents, slow="slow1500-slow")
    client.create_flow(chain("patience", "slow"))
    started = client.execute_flow("patience", {})
    with pytest.raises(TimeoutError) as waited:
        client.wait_for_execution(started["execution_id"], timeout=0.3, interval=0.05)
    assert waited.value.timeout == 0.3 and isinstance(waited.value, builtins.TimeoutError)
    client.wait_for_execution(started["execution_id"], timeout=5, interval=0.05)


def test_the_async_client_runs_many_executions_at_once(spine: Server, agents: AgentServer) -> None:
    async def main() -> list[dict[str, Any]]:
        async with AsyncAISpine(api_key=KEY, base_url=spine.base + "/api/v1") as c:
            await c.create_agent(agent("slow", agents.endpoint("slow300-slow")))
            await c.create_flow(chain("many", "slow"))
            began = time.monotonic()
            runs = await asyncio.gather(
                *(c.execute_and_wait("many", {"n": i}, timeout=10, interval=0.05) for i in range(8))
            )
            assert time.monotonic() - began < 2.0  # 8 x 0.3 s one after the other would be 2.4 s
            assert len(await c.list_agents()) == 1 and (await c.get_flow("many"))["flow_id"] == "many"
            return runs

    runs = asyncio.run(main())
    assert sorted(r["output_data"]["n0"]["n"] for r in runs) == list(range(1, 9))
    assert Client is AISpine


def test_kill_9_mid_run_then_restart_ends_the_run_with_a_reason(tmp_path: Path, agents: AgentServer) -> None:
    data = tmp_path / "data"
    first = spine_server(data)
    with AISpine(api_key=KEY, base_url=first.base) as c:
        c.create_agent(agent("slow", agents.endpoint("slow3000-slow")))
        c.create_flow(chain("doomed", "slow"))
        started = c.execute_flow("doomed", {"n": 1})
        time.sleep(0.3)
        assert c.get_execution(started["execution_id"])["status"] == "running"
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)

    second = spine_server(data)
    try:
        with AISpine(api_key=KEY, base_url=second.base) as c:
            ended = c.get_execution(started["execution_id"])
            assert ended["status"] == "failed"
            assert "stopped while node(s) n0 were running" in ended["error_message"]
            assert ended["completed_at"] is not None
            # Flows and agents survived; the server runs new executions as before.
            assert [f["flow_id"] for f in c.list_flows()] == ["doomed"]
            c.create_agent(agent("quick", agents.endpoint("ok-quick")))
            c.create_flow(chain("fine", "quick"))
            assert c.execute_and_wait("fine", {}, timeout=10, interval=0.05)["status"] == "completed"
            assert c.get_metrics()["failed_executions"] == 1
    finally:
        second.stop()


def test_the_openapi_document_lists_the_routes(spine: Server) -> None:
    with urllib.request.urlopen(spine.base + "/api/v1/openapi.json", timeout=10) as r:
        spec = json.loads(r.read())
    assert spec["openapi"].startswith("3.")
    for path in (
        "/flows/execute",
        "/flows",
        "/flows/{flow_id}",
        "/executions/{execution_id}",
        "/agents",
        "/metrics",
    ):
        assert path in spec["paths"], path


def test_the_command_line_drives_the_service(spine: Server, agents: AgentServer, tmp_path: Path) -> None:
    def flows(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(AGENTCELL), "flows", "--url", spine.base, *args],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "AGENTCELL_API_KEY": KEY},
        )

    with AISpine(api_key=KEY, base_url=spine.base) as c:
        c.create_agent(agent("zoe", agents.endpoint("ok-zoe")))
    definition = tmp_path / "flow.json"
    definition.write_text(json.dumps(chain("cli", "zoe")))
    assert flows("create", str(definition)).returncode == 0
    assert json.loads(flows("list").stdout)[0]["flow_id"] == "cli"
    assert json.loads(flows("get", "cli").stdout)["entry_point"] == "n0"
    ran = flows("execute", "cli", "--input", '{"n": 41}', "--wait")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["output_data"] == {
        "n0": {"zoe": True, "last": "zoe", "n": 42, "config": {}}
    }
    assert len(json.loads(flows("executions", "--flow", "cli").stdout)) == 1
    assert json.loads(flows("agents").stdout)[0]["agent_id"] == "zoe"
    assert json.loads(flows("metrics").stdout)["successful_executions"] == 1
    missing = flows("get", "nope")
    assert missing.returncode == 1 and "api error (HTTP 404): Flow 'nope' not found" in missing.stderr
    bad = flows("execute", "cli", "--input", "[1]")
    assert bad.returncode == 1 and "validation error" in bad.stderr
    anonymous = subprocess.run(
        [str(AGENTCELL), "flows", "--url", spine.base, "list"],
        capture_output=True,
        text=True,
        timeout=30,
        env={k: v for k, v in os.environ.items() if k != "AGENTCELL_API_KEY"},
    )
    assert (
        anonymous.returncode == 1 and "authentication error (HTTP 401): Missing API key" in anonymous.stderr
    )
