"""x0x's daemon routes in `agentcell serve`: any HTTP client publishes, subscribes over
server-sent events and works on task lists, meeting Python agents on one SQLite bus."""

from __future__ import annotations

import asyncio
import base64
import json
import queue
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentcell._wasm import Runtime
from agentcell.mesh import Agent

from .conftest import KEY, Server


@pytest.fixture
def mesh_server(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    bus = tmp_path / "bus.db"
    srv = Server(tmp_path / "served", "--bus", str(bus))
    try:
        yield srv, bus
    finally:
        srv.stop()


def sse_lines(srv: Server, into: queue.Queue[dict[str, object]]) -> None:
    req = urllib.request.Request(srv.base + "/events", headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.headers["Content-Type"] == "text/event-stream"
        for raw in r:
            line = raw.decode().strip()
            if line.startswith("data: "):
                into.put(json.loads(line[6:]))


def test_publish_subscribe_and_events_meet_agents(mesh_server: tuple[Server, Path], tmp_path: Path) -> None:
    srv, bus = mesh_server
    status, me, _ = srv.request("GET", "/agent")
    assert status == 200 and me["ok"] and len(me["agent_id"]) == 64 and me["user_id"] is None
    assert srv.request("GET", "/agent", key=None)[0] == 401, "the mesh routes need the key"
    assert srv.request("POST", "/publish", {"topic": "", "payload": ""})[1] == {
        "ok": False,
        "error": "topic must not be empty",
    }
    status, body, _ = srv.request("POST", "/publish", {"topic": "t", "payload": "%%%"})
    assert status == 400 and body["error"].startswith("invalid base64 in payload field")

    status, sub, _ = srv.request("POST", "/subscribe", {"topic": "news"})
    assert status == 200 and sub["subscription_id"]
    events: queue.Queue[dict[str, object]] = queue.Queue()
    threading.Thread(target=sse_lines, args=(srv, events), daemon=True).start()

    async def main() -> None:
        a = await Agent.builder().with_agent_key_path(tmp_path / "py.key").with_runtime(Runtime(bus)).build()
        await a.join_network()
        inbox = a.subscribe("news")
        await asyncio.sleep(0.3)  # the event stream is open
        await a.publish("news", b"from python")
        payload = base64.b64encode(b"from the server").decode()
        assert srv.request("POST", "/publish", {"topic": "news", "payload": payload})[0] == 200
        got = [await inbox.__anext__(), await inbox.__anext__()]
        assert [m.payload for m in got] == [b"from python", b"from the server"]
        assert got[1].sender.to_hex() == me["agent_id"]
        seen = [events.get(timeout=20), events.get(timeout=20)]
        assert [base64.b64decode(str(e["data"]["payload"])) for e in seen] == [  # type: ignore[index]
            b"from python",
            b"from the server",
        ]
        assert seen[0]["type"] == "message" and seen[0]["data"]["sender"] == a.agent_id.to_hex()  # type: ignore[index]
        assert seen[0]["data"]["verified"] is True  # type: ignore[index]
        await a.leave_network()

    asyncio.run(main())
    assert srv.request("DELETE", f"/subscribe/{sub['subscription_id']}")[1] == {"ok": True}
    assert srv.request("DELETE", f"/subscribe/{sub['subscription_id']}")[0] == 404


def test_task_lists_over_http_and_python_agree(mesh_server: tuple[Server, Path], tmp_path: Path) -> None:
    srv, bus = mesh_server
    status, made, _ = srv.request("POST", "/task-lists", {"name": "ops", "topic": "team/ops"})
    assert status == 201 and made["id"] == "team/ops"
    assert srv.request("POST", "/task-lists", {"name": "ops", "topic": "team/ops"})[0] == 409
    path = "/task-lists/" + urllib.parse.quote("team/ops", safe="") + "/tasks"
    status, added, _ = srv.request("POST", path, {"title": "rotate keys"})
    assert status == 201 and len(added["task_id"]) == 64
    assert srv.request("PATCH", f"{path}/{added['task_id']}", {"action": "complete"})[0] == 400
    assert srv.request("PATCH", f"{path}/xyz", {"action": "claim"})[1]["error"].startswith("invalid task ID")
    assert srv.request("PATCH", f"{path}/{added['task_id']}", {"action": "fly"})[0] == 400
    assert srv.request("GET", "/task-lists/nope/tasks")[0] == 404

    async def main() -> None:
        a = await Agent.builder().with_agent_key_path(tmp_path / "py.key").with_runtime(Runtime(bus)).build()
        await a.join_network()
        tl = await a.join_task_list("team/ops")
        assert tl.name == "ops" and [t.title for t in tl.get_tasks()] == ["rotate keys"]
        await tl.claim_task(added["task_id"])
        tl.close()
        await a.leave_network()
        return a.agent_id.to_hex()

    claimer = asyncio.run(main())
    status, listed, _ = srv.request("GET", path)
    assert status == 200 and listed["tasks"][0]["state"] == "claimed"
    assert listed["tasks"][0]["assignee"] == claimer
    assert srv.request("PATCH", f"{path}/{added['task_id']}", {"action": "complete"})[1] == {"ok": True}
    assert srv.request("GET", path)[1]["tasks"][0]["state"] == "done"
    assert srv.request("GET", "/task-lists")[1]["task_lists"] == [{"id": "team/ops", "topic": "team/ops"}]
