"""A real agent server on loopback for the AI Spine tests: `POST /<behaviour>/execute`.

Behaviours (the first path segment): `ok-<name>` answers `{name: true, "last": name}` plus
the input's `n` + 1; `slow<ms>-<name>` does the same after `ms` milliseconds; `fail`
answers 500 `{"detail": "boom"}`; `error` answers 200 `{"status": "error"}`; `busy`
answers 429 with `Retry-After: 1` to the first call of each node run, then succeeds.
Every call is recorded with its arrival and end times.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class Call:
    behaviour: str
    body: dict[str, Any]
    started: float
    ended: float = 0.0


class AgentServer:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self.busy_seen: set[tuple[str, str]] = set()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                behaviour = self.path.strip("/").split("/")[0]
                call = Call(behaviour, body, time.monotonic())
                with owner.lock:
                    owner.calls.append(call)
                status, reply, headers = owner.answer(behaviour, body)
                call.ended = time.monotonic()
                data = json.dumps(reply).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, behaviour: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        data = body.get("input", {})
        if behaviour == "fail":
            return 500, {"detail": "boom"}, {}
        if behaviour == "error":
            return 200, {"status": "error", "error_message": "no credit data"}, {}
        if behaviour == "busy":
            run = (body.get("execution_id", ""), body.get("node_id", ""))
            with self.lock:
                first = run not in self.busy_seen
                self.busy_seen.add(run)
            if first:
                return 429, {"detail": "slow down"}, {"Retry-After": "1"}
            behaviour = "ok-busy"
        name = behaviour.split("-", 1)[-1]
        if behaviour.startswith("slow"):
            time.sleep(int(behaviour[4:].split("-")[0]) / 1000)
        output = {name: True, "last": name, "n": int(data.get("n", 0)) + 1, "config": body.get("config")}
        return 200, {"status": "success", "output": output, "execution_id": body.get("execution_id")}, {}

    def endpoint(self, behaviour: str) -> str:
        return f"{self.base}/{behaviour}"

    def seen(self, behaviour: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.behaviour == behaviour]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def agent_server() -> Iterator[AgentServer]:
    server = AgentServer()
    try:
        yield server
    finally:
        server.close()


def agent(agent_id: str, endpoint: str, agent_type: str = "processor") -> dict[str, Any]:
    return {
        "agent_id": agent_id,
        "name": agent_id.title(),
        "description": f"test agent {agent_id}",
        "endpoint": endpoint,
        "capabilities": ["test"],
        "agent_type": agent_type,
    }


def diamond(flow_id: str, a: str, b: str, c: str) -> dict[str, Any]:
    """a -> (b, c) -> d, where d has no agent and passes its input through."""
    return {
        "flow_id": flow_id,
        "name": flow_id,
        "description": "a diamond",
        "nodes": [
            {"id": "a", "type": "input", "agent_id": a},
            {"id": "b", "type": "processor", "agent_id": b, "depends_on": ["a"], "config": {"k": 1}},
            {"id": "c", "type": "processor", "agent_id": c, "depends_on": ["a"]},
            {"id": "d", "type": "output", "depends_on": ["b", "c"]},
        ],
        "entry_point": "a",
        "exit_points": ["d"],
    }


def chain(flow_id: str, *agents: str) -> dict[str, Any]:
    nodes = [
        {"id": f"n{i}", "type": "processor", "agent_id": a, "depends_on": [f"n{i - 1}"] if i else []}
        for i, a in enumerate(agents)
    ]
    return {
        "flow_id": flow_id,
        "name": flow_id,
        "description": "a chain",
        "nodes": nodes,
        "entry_point": "n0",
        "exit_points": [f"n{len(agents) - 1}"],
    }
