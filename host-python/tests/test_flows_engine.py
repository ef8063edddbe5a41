"""`agentcell.flows.FlowEngine`: the AI Spine engine in process, with Python callables
and HTTP agents, kept in a SQLite file."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agentcell.flows import APIError, FlowEngine, TimeoutError, ValidationError

from .agents import agent_server, chain, diamond


def test_python_callables_run_a_diamond_with_parallel_branches() -> None:
    active, peak, lock = [0], [0], threading.Lock()

    def branch(name: str) -> Any:
        def run(data: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.2)
            with lock:
                active[0] -= 1
            return {name: data["n"] + 1, "last": name, "config": config}

        return run

    with FlowEngine() as engine:
        engine.register_agent("zoe", lambda data: {"n": data["n"] * 10})
        engine.register_agent("left", branch("left"))
        engine.register_agent("right", branch("right"))
        engine.create_flow(diamond("credit", "zoe", "left", "right"))
        done = engine.run("credit", {"n": 1})
        assert done["status"] == "completed", done
        # d's input: the execution's, updated with b's output then c's (a is not a direct
        # dependency of d, so its `n` does not reach d).
        assert done["output_data"] == {"d": {"n": 1, "left": 11, "right": 11, "last": "right", "config": {}}}
        assert peak[0] == 2  # both branches at once
        results = {r["node_id"]: r for r in engine.node_results(done["execution_id"])}
        assert results["b"]["input_data"] == {"n": 10} and results["d"]["status"] == "completed"
        assert engine.get_metrics()["successful_executions"] == 1


def test_decorators_async_agents_and_failures() -> None:
    with FlowEngine() as engine:

        @engine.agent("shout", agent_type="input")
        async def shout(data: dict[str, Any]) -> dict[str, Any]:
            await asyncio.sleep(0.01)
            return {"text": data["text"].upper()}

        @engine.agent("picky")
        def picky(data: dict[str, Any]) -> dict[str, Any]:
            raise ValueError(f"cannot use {data['text']!r}")

        engine.register_agent("lazy", lambda _data: ["not", "a", "dict"])
        engine.create_flow(chain("ok", "shout"))
        engine.create_flow(chain("bad", "shout", "picky"))
        engine.create_flow(chain("odd", "lazy"))
        assert engine.run("ok", {"text": "hi"})["output_data"] == {"n0": {"text": "HI"}}
        failed = engine.run("bad", {"text": "hi"})
        assert failed["status"] == "failed"
        assert failed["error_message"] == "Agent 'picky' reported an error: ValueError: cannot use 'HI'"
        assert "not a dict" in engine.run("odd", {})["error_message"]
        assert asyncio.run(engine.run_async("ok", {"text": "a"}))["status"] == "completed"
        assert engine.delete_agent("lazy") is True and engine.delete_agent("lazy") is False


def test_http_agents_go_through_the_allow_list() -> None:
    with agent_server() as agents:
        with FlowEngine(allow=["127.0.0.1"]) as engine:
            engine.register_agent("remote", endpoint=agents.endpoint("ok-remote"))
            engine.create_flow(chain("remote", "remote"))
            assert engine.run("remote", {"n": 4})["output_data"]["n0"]["n"] == 5
        with FlowEngine() as denied:  # deny by default
            denied.register_agent("remote", endpoint=agents.endpoint("ok-remote"))
            denied.create_flow(chain("remote", "remote"))
            run = denied.run("remote", {})
            assert run["status"] == "failed" and "allow-list" in run["error_message"]


def test_validation_errors_name_the_rule() -> None:
    with FlowEngine() as engine:
        with pytest.raises(ValidationError, match="agent 'ghost' is not registered"):
            engine.create_flow(chain("f", "ghost"))
        with pytest.raises(ValidationError, match="exactly one of fn"):
            engine.register_agent("x")
        with pytest.raises(ValidationError, match="endpoint"):
            engine.register_agent("x", endpoint="file:///etc/passwd")
        with pytest.raises(APIError) as missing:
            engine.execute("nope", {})
        assert missing.value.status_code == 404
        with pytest.raises(APIError) as unknown:
            engine.get_execution("6f1c1e9a-9b7e-4c59-8f0e-2d7a3c1b5e40")
        assert unknown.value.status_code == 404


def test_cancel_and_timeout() -> None:
    release = threading.Event()
    called: list[str] = []
    with FlowEngine() as engine:
        engine.register_agent("hold", lambda _data: release.wait(5) and {"held": True})
        engine.register_agent("next", lambda _data: called.append("next") or {})
        engine.create_flow(chain("held", "hold", "next"))
        started = engine.execute("held", {})
        assert (
            engine.cancel_execution(started["execution_id"])["message"] == "Execution cancelled successfully"
        )
        release.set()
        done = engine.wait(started["execution_id"], timeout=5)
        assert done["status"] == "cancelled" and called == []

        engine.register_agent("nap", lambda _data: time.sleep(0.4) or {})
        engine.create_flow(chain("nap", "nap", "next"))
        late = engine.run("nap", {}, timeout=0.1)
        assert late["status"] == "failed" and "timed out" in late["error_message"]
        with pytest.raises(TimeoutError):
            engine.wait(engine.execute("nap", {})["execution_id"], timeout=0.05)


def test_runs_persist_in_a_sqlite_file_and_abandoned_runs_are_ended(tmp_path: Path) -> None:
    db = tmp_path / "flows.db"
    with FlowEngine(db) as engine:
        engine.register_agent("one", lambda _data: {"one": 1})
        engine.create_flow(chain("keep", "one"))
        kept = engine.run("keep", {})["execution_id"]
        # An execution left running, as by a process that died mid-call.
        stuck = engine._flows.handle(
            {
                "method": "POST",
                "path": "/flows/execute",
                "content_type": None,
                "body": '{"flow_id": "keep", "input_data": {}}',
            }
        )
        stuck_id = json.loads(stuck["response"]["body"])["execution_id"]
    with FlowEngine(db, recover_after=0) as again:
        assert again.recovered == 1
        assert again.get_execution(kept)["status"] == "completed"
        ended = again.get_execution(stuck_id)
        assert ended["status"] == "failed" and "n0" in ended["error_message"]
        assert [f["flow_id"] for f in again.list_flows()] == ["keep"]
