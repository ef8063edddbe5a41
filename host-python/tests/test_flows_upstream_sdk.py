"""The official `ai-spine-sdk` (PyPI, 2.3.1), unchanged, pointed at `agentcell serve`:
every method of it that this system covers works, at the root and under `/api/v1`."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from .agents import AgentServer, agent, agent_server, chain, diamond
from .conftest import KEY, Server

ai_spine = pytest.importorskip("ai_spine")


@pytest.fixture(scope="module")
def agents() -> Iterator[AgentServer]:
    with agent_server() as server:
        yield server


@pytest.fixture(scope="module")
def spine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("sdk") / "data", "--rate-limit", "0", "--allow-agent", "127.0.0.1")
    yield s
    s.stop()


def seed_flow(spine: Server, agents: AgentServer, flow_id: str) -> None:
    for agent_id, behaviour in (("zoe", "ok-zoe"), ("eddie", "ok-eddie"), ("slow", "slow1500-slow")):
        status = spine.request("POST", "/agents", agent(agent_id, agents.endpoint(behaviour)))[0]
        assert status in (200, 409)
    assert spine.request("POST", "/flows", diamond(flow_id, "zoe", "eddie", "zoe"))[0] == 200


@pytest.mark.parametrize("prefix", ["", "/api/v1"])
def test_every_covered_method_of_the_official_sdk(spine: Server, agents: AgentServer, prefix: str) -> None:
    flow_id = f"credit{prefix.replace('/', '_')}"
    seed_flow(spine, agents, flow_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # our key starts with sk_: no warning
        client = ai_spine.AISpine(api_key=KEY, base_url=spine.base + prefix + "/", timeout=10)
    with client:
        started = client.execute_flow(flow_id, {"amount": 50000}, metadata={"source": "sdk"})
        assert started["status"] in ("pending", "running")
        execution = client.wait_for_execution(started["execution_id"], timeout=10, interval=1)
        assert execution["status"] == "completed"
        assert execution["output_data"]["d"]["amount"] == 50000
        assert client.get_execution(started["execution_id"])["flow_id"] == flow_id
        assert client.execute_and_wait(flow_id, {"n": 1}, timeout=10, interval=1)["status"] == "completed"

        assert flow_id in [f["flow_id"] for f in client.list_flows()]
        assert client.get_flow(flow_id)["entry_point"] == "a"
        assert {"zoe", "eddie"} <= {a["agent_id"] for a in client.list_agents()}
        made = client.create_agent(agent(f"temp{len(prefix)}", agents.endpoint("ok-temp")))
        assert made["is_active"] is True
        assert client.delete_agent(f"temp{len(prefix)}") is True
        assert client.delete_agent(f"temp{len(prefix)}") is False

        assert spine.request("POST", "/flows", chain(f"slow{len(prefix)}", "slow"))[0] == 200
        running = client.execute_flow(f"slow{len(prefix)}", {})
        assert (
            client.cancel_execution(running["execution_id"])["message"] == "Execution cancelled successfully"
        )
        assert client.get_execution(running["execution_id"])["status"] == "cancelled"

        health = client.health_check()
        assert health["status"] == ("healthy" if prefix else "ok")  # the root /health is Attuned's
        assert client.get_metrics()["total_executions"] >= 3
        assert client.get_status()["status"] == "operational"

        with pytest.raises(ai_spine.APIError) as missing:
            client.get_execution("6f1c1e9a-9b7e-4c59-8f0e-2d7a3c1b5e40")
        assert missing.value.status_code == 404
        with pytest.raises(ai_spine.ValidationError):
            client.execute_flow(flow_id, None)


def test_the_official_sdk_sees_our_refusals_as_its_errors(spine: Server, tmp_path: Path) -> None:
    with (
        ai_spine.AISpine(api_key="sk_not_a_key", base_url=spine.base) as wrong,
        pytest.raises(ai_spine.AuthenticationError),
    ):
        wrong.list_flows()
    limited = Server(tmp_path / "limited", "--rate-limit", "1")
    try:
        with ai_spine.AISpine(api_key=KEY, base_url=limited.base, max_retries=0) as c:
            with pytest.raises(ai_spine.RateLimitError) as slow_down:
                for _ in range(4):
                    c.list_flows()
            assert slow_down.value.retry_after is not None and slow_down.value.retry_after >= 1
    finally:
        limited.stop()
