"""Plugins (issue 19): users' components of the world `agentcell:plugin`, loaded with
limits and grants, called with JSON; hostile ones stopped with clear errors; plugins as
workflow steps. The vectors in tests/plugin-vectors are run by every host."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from agentcell import HttpPolicy, Limits, ResourceLimitError
from agentcell._wasm import Runtime
from agentcell.errors import ComponentLoadError, ComponentTrap, InvalidArgumentError, NotFoundError
from agentcell.plugins import PLUGIN_LIMITS, Grants, Plugin, PluginError, PluginSet, register_plugins
from agentcell.storage import SQLiteStorage
from agentcell.worker import HandlerRegistry, TaskerClient, Worker

from .conftest import REPO

PLUGINS = REPO / "target" / "plugins" / "wasm32-wasip2" / "release"
TEXT_STATS = PLUGINS / "text_stats.wasm"
MISBEHAVE = PLUGINS / "misbehave.wasm"
VECTORS = REPO / "tests" / "plugin-vectors" / "plugins.json"


def vectors() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(VECTORS.read_text())["cases"]
    return cases


@pytest.fixture
def misbehave() -> Plugin:
    return Plugin(MISBEHAVE, limits=Limits(memory_mb=64, call_timeout_ms=300))


@pytest.mark.parametrize("case", vectors(), ids=lambda c: c["name"])
def test_plugin_vectors(case: dict[str, Any], tmp_path: Path) -> None:
    grants = Grants(storage=SQLiteStorage(tmp_path / "kv.db")) if case.get("kv") else Grants()
    plugin = Plugin(PLUGINS / case["plugin"], grants=grants, limits=Limits(memory_mb=64, call_timeout_ms=300))
    for step in case["calls"]:
        if "error" in step:
            with pytest.raises((PluginError, ResourceLimitError, ComponentTrap)) as info:
                plugin.call(step["input"])
            err = info.value
            kind = err.kind if isinstance(err, PluginError) else getattr(err, "limit", "trap")
            assert kind == step["error"], (step, err)
        else:
            assert plugin.call(step["input"]) == step["output"], step


def test_a_plugin_describes_itself_and_its_defaults_are_tight() -> None:
    plugin = Plugin(TEXT_STATS)
    assert plugin.info.name == "text-stats" and plugin.info.version == "0.1.0"
    assert plugin.name == "text_stats".replace("_", "-")
    assert plugin.limits == PLUGIN_LIMITS == Limits(memory_mb=128, call_timeout_ms=5000)


def test_an_infinite_loop_is_stopped_and_the_plugin_works_after(misbehave: Plugin) -> None:
    with pytest.raises(ResourceLimitError, match="time limit of 300 ms") as info:
        misbehave.call({"do": "spin"})
    assert info.value.limit == "time"
    assert misbehave.call({"do": "echo", "n": 1}) == {"do": "echo", "n": 1}
    assert misbehave.instantiations == 2


def test_a_memory_bomb_is_stopped_at_the_plugins_cap(misbehave: Plugin) -> None:
    with pytest.raises(ResourceLimitError, match="cap of 64 MiB"):
        misbehave.call({"do": "hog"})
    assert misbehave.call({"do": "echo"}) == {"do": "echo"}


def test_a_plugin_reads_no_file_sees_no_environment_and_opens_no_socket(
    misbehave: Plugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTCELL_SECRET", "x")
    assert misbehave.call({"do": "read-file"})["ok"] is False
    assert misbehave.call({"do": "write-file"})["ok"] is False
    assert misbehave.call({"do": "env"}) == []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert misbehave.call({"do": "connect", "port": listener.getsockname()[1]})["ok"] is False


def test_http_is_denied_without_a_grant_and_outside_the_allow_list(http_server: str) -> None:
    url = f"http://{http_server}/ok"
    bare = Plugin(MISBEHAVE)
    out = bare.call({"do": "fetch", "url": url})
    assert out["ok"] is False and "Denied" in out["error"] and "no HTTP grant" in out["error"]
    elsewhere = Plugin(MISBEHAVE, grants=Grants(http=HttpPolicy(allow=["api.example.com"])))
    out = elsewhere.call({"do": "fetch", "url": url})
    assert out["ok"] is False and "allow-list" in out["error"]
    allowed = Plugin(MISBEHAVE, grants=Grants(http=HttpPolicy(allow=[http_server])))
    assert allowed.call({"do": "fetch", "url": url}) == {
        "ok": True,
        "status": 200,
        "body": "hello from loopback",
    }


def test_key_value_is_denied_without_a_grant_and_namespaced_per_plugin(tmp_path: Path) -> None:
    assert "Denied" in Plugin(MISBEHAVE).call({"do": "kv", "key": "k", "value": "v"})["error"]
    storage = SQLiteStorage(tmp_path / "kv.db")
    one = Plugin(MISBEHAVE, name="one", grants=Grants(storage=storage))
    two = Plugin(MISBEHAVE, name="two", grants=Grants(storage=storage))
    assert one.call({"do": "kv", "key": "k", "value": "from one"})["value"] == "from one"
    assert storage.get("plugin/one", "k") == "from one"
    assert storage.get("plugin/two", "k") is None  # two sees its own namespace only
    assert two.call({"do": "kv", "key": "k", "value": "from two"})["value"] == "from two"
    assert storage.get("plugin/one", "k") == "from one"
    assert "Invalid" in one.call({"do": "kv", "key": "", "value": "v"})["error"]


def test_the_key_value_grant_survives_a_restart(tmp_path: Path) -> None:
    storage = SQLiteStorage(tmp_path / "kv.db")
    first = Plugin(TEXT_STATS, grants=Grants(storage=storage))
    assert [first.call({"text": "a"})["calls"] for _ in range(3)] == [1, 2, 3]
    first.close()
    again = Plugin(TEXT_STATS, grants=Grants(storage=SQLiteStorage(tmp_path / "kv.db")))
    assert again.call({"text": "a"})["calls"] == 4


def test_bad_input_and_bad_plugins_are_typed(tmp_path: Path) -> None:
    plugin = Plugin(TEXT_STATS)
    with pytest.raises(PluginError, match="input must be an object") as info:
        plugin.call([1, 2])
    assert info.value.kind == "invalid-input" and not info.value.retryable
    with pytest.raises(InvalidArgumentError, match="cannot be sent as JSON"):
        plugin.call({"text": {1, 2}})
    with pytest.raises(TypeError, match="JSON text"):
        plugin.call_json(b"{}")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="not a plugin name"):
        Plugin(TEXT_STATS, name="Bad Name")
    junk = tmp_path / "junk.wasm"
    junk.write_bytes(b"\0asm junk")
    with pytest.raises(ComponentLoadError, match="not a valid WebAssembly component"):
        Plugin(junk)


def test_the_core_component_is_not_a_plugin() -> None:
    with pytest.raises(ComponentLoadError, match=r"is not an agentcell plugin .*agentcell:core/storage"):
        Plugin(REPO / "target" / "agentcell-test.wasm")


def test_plugins_load_from_a_config_file_with_their_limits_and_grants(
    tmp_path: Path, http_server: str
) -> None:
    config = tmp_path / "plugins.json"
    config.write_text(
        json.dumps(
            {
                "plugins": {
                    "stats": {"path": str(TEXT_STATS), "kv": True},
                    "tight": {
                        "path": str(MISBEHAVE),
                        "memory_mb": 32,
                        "call_timeout_ms": 100,
                        "http_allow": [http_server],
                    },
                }
            }
        )
    )
    plugins = PluginSet.from_config(config, storage=SQLiteStorage(tmp_path / "kv.db"))
    assert sorted(plugins) == ["stats", "tight"]
    assert plugins["stats"].call({"text": "x y"})["calls"] == 1
    assert plugins["tight"].limits == Limits(memory_mb=32, call_timeout_ms=100)
    assert plugins["tight"].call({"do": "fetch", "url": f"http://{http_server}/ok"})["status"] == 200
    with pytest.raises(ResourceLimitError):
        plugins["tight"].call({"do": "spin"})
    with pytest.raises(NotFoundError, match="no plugin 'nope'"):
        plugins["nope"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"path": "x.wasm", "memroy_mb": 1}, r"plugins\.p\.memroy_mb: not a key"),
        ({"path": "x.wasm", "memory_mb": 0}, r"plugins\.p\.memory_mb: must be an integer"),
        ({"path": "x.wasm", "http_allow": "api.example.com"}, r"http_allow: must be a list"),
        ({"path": "x.wasm", "kv": "yes"}, r"plugins\.p\.kv: must be true or false"),
        ({}, r"plugins\.p\.path"),
    ],
)
def test_a_bad_config_names_the_key(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        PluginSet.from_config({"plugins": {"p": entry}})


def test_workflow_steps_run_plugins_and_their_failures_are_permanent() -> None:
    registry = HandlerRegistry()
    plugins = {"stats": Plugin(TEXT_STATS, name="stats"), "bad": Plugin(MISBEHAVE, name="bad")}
    assert register_plugins(plugins, registry) == ["plugin:stats", "plugin:bad"]
    with TaskerClient(runtime=Runtime(":memory:")) as client:
        client.register_template(
            {
                "name": "count_words",
                "namespace_name": "t",
                "steps": [
                    {"name": "count", "handler": {"callable": "plugin:stats"}},
                    {"name": "after", "handler": {"callable": "plugin:bad"}, "dependencies": ["count"]},
                ],
            }
        )
        with Worker(registry, runtime=client.runtime, poll_interval=0.01):
            task = client.create_task("count_words", namespace="t", context={"text": "the quick brown fox"})
            done = client.wait_for_task(task.task_uuid, timeout=30)
    count, after = done.steps
    assert count.results["result"] == {"words": 4, "characters": 19, "longest": "quick"}
    assert after.current_state == "error"
    assert done.status == "error"


def test_flow_nodes_run_plugins() -> None:
    from agentcell.flows import FlowEngine
    from agentcell.plugins import plugin_agent

    from .agents import chain

    with FlowEngine() as engine:
        engine.register_agent("stats", plugin_agent(Plugin(TEXT_STATS)))
        engine.register_agent("keywords", plugin_agent(Plugin(PLUGINS / "py_keywords.wasm")))
        engine.register_agent("bad", plugin_agent(Plugin(MISBEHAVE)))
        engine.create_flow(chain("count", "stats"))
        engine.create_flow(chain("rank", "keywords"))
        engine.create_flow(chain("fails", "bad"))
        done = engine.run("count", {"text": "to be or not"})
        assert done["status"] == "completed", done
        assert done["output_data"] == {"n0": {"words": 4, "characters": 12, "longest": "not"}}
        ranked = engine.run("rank", {"text": "Flows run plugins; plugins run anywhere."})
        assert ranked["output_data"] == {
            "n0": {"keywords": [["plugins", 2], ["run", 2], ["anywhere", 1]], "sentences": 1}
        }
        failed = engine.run("fails", {"text": "x"})
        assert failed["status"] == "failed" and "unknown" in failed["error_message"], failed


def test_agentcell_serve_runs_local_agents_as_its_plugins(tmp_path: Path) -> None:
    """The Rust host: `agentcell serve --plugins FILE`, an AI Spine agent registered with
    endpoint `local://<plugin>`, a flow over the HTTP API."""
    import time

    from .agents import chain
    from .conftest import Server

    config = tmp_path / "plugins.json"
    config.write_text(json.dumps({"plugins": {"stats": {"path": str(TEXT_STATS), "kv": True}}}))
    server = Server(tmp_path / "data", "--plugins", str(config), "--rate-limit", "0")
    try:
        for agent_id, endpoint in (("stats", "local://stats"), ("ghost", "local://ghost")):
            agent = {"agent_id": agent_id, "name": agent_id, "endpoint": endpoint, "agent_type": "processor"}
            assert server.request("POST", "/agents", {**agent, "capabilities": ["count"]})[0] == 200
        assert server.request("POST", "/flows", chain("count", "stats"))[0] == 200
        assert server.request("POST", "/flows", chain("haunted", "ghost"))[0] == 200
        outcomes = {}
        for flow_id in ("count", "haunted"):
            status, started, _ = server.request(
                "POST", "/flows/execute", {"flow_id": flow_id, "input_data": {"text": "one two"}}
            )
            assert status == 200, started
            deadline = time.monotonic() + 20
            while True:
                _, execution, _ = server.request("GET", f"/executions/{started['execution_id']}")
                if execution["status"] in ("completed", "failed") or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            outcomes[flow_id] = execution
        count = outcomes["count"]
        assert count["status"] == "completed", count
        assert count["output_data"]["n0"] == {"words": 2, "characters": 7, "longest": "one", "calls": 1}
        assert outcomes["haunted"]["status"] == "failed"
        assert "no plugin" in outcomes["haunted"]["error_message"], outcomes["haunted"]
    finally:
        server.stop()
