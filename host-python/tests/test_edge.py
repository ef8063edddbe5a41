"""The edge build (issue 19): `target/edge/agentcell-http.wasm`, the shipped core
composed with wac between an adapter of its imports (wasi:keyvalue, wasi:http,
wasi:config) and an HTTP front (wasi:http/incoming-handler), served unmodified by
`wasmtime serve` and `jco serve`, answering the service vectors as `agentcell serve`
does: one test module, three servers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import KEY, REPO, Server

EDGE = REPO / "target" / "edge" / "agentcell-http.wasm"
WASMTIME = REPO / "target" / "tools" / "bin" / "wasmtime"
JCO = REPO / "host-js" / "node_modules" / "@bytecodealliance" / "jco" / "dist" / "jco.js"
EDGE_JS = REPO / "host-js" / "src" / "edge"
VECTORS = sorted((REPO / "tests" / "service-vectors").glob("*.json"))
CASES = [(f.stem, case) for f in VECTORS for case in json.loads(f.read_text())["cases"]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class EdgeServer(Server):
    """A wasi:http runtime serving the edge build on loopback, with the test API key."""

    def __init__(self, runtime: str, tmp: Path) -> None:  # replaces Server's: another command
        port = free_port()
        env = {**os.environ, "AGENTCELL_API_KEYS": KEY}
        if runtime == "wasmtime":
            command = [
                str(WASMTIME), "serve", "--addr", f"127.0.0.1:{port}", "-S", "cli", "-S", "keyvalue",
                "-S", "config", "-S", f"config-var=api-keys={KEY}", str(EDGE),
            ]  # fmt: skip
        else:
            command = [
                "node", str(JCO), "serve", str(EDGE), "--host", "127.0.0.1", "--port", str(port),
                "--jco-dir", str(tmp / "jco"),
                "--jco-map", f"wasi:keyvalue/*={(EDGE_JS / 'keyvalue.js').as_uri()}#*",
                "--jco-map", f"wasi:config/*={(EDGE_JS / 'config.js').as_uri()}#*",
            ]  # fmt: skip
        self.proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{self.base}/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                self.proc.kill()
                raise AssertionError(f"{runtime} serve did not come up: {err[-2000:]}")
            time.sleep(0.2)

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def _subset(expected: Any, got: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(got, dict) and all(k in got and _subset(v, got[k]) for k, v in expected.items())
    return bool(expected == got)


def run_case(server: Server, case: dict[str, Any]) -> None:
    execution_id = ""
    for step in case["steps"]:
        key = step.get("key", True)
        kwargs: dict[str, Any] = {
            "raw": step["raw"].encode() if "raw" in step else None,
            "body": step.get("body"),
        }
        kwargs["content_type"] = step.get("content_type", "application/json")
        if key is not True:
            kwargs["key"] = key or None
        status, body, _ = server.request(
            step["method"], step["path"].replace("{execution_id}", execution_id), **kwargs
        )
        if isinstance(body, dict) and isinstance(body.get("execution_id"), str):
            execution_id = body["execution_id"]
        assert status == step["expect"]["status"], (step, body)
        if "body" in step["expect"]:
            assert _subset(step["expect"]["body"], body), (step, body)


def test_the_core_inside_is_the_shipped_component() -> None:
    edge = EDGE.read_bytes()
    shipped = (REPO / "host-python" / "agentcell" / "agentcell.wasm").read_bytes()
    assert (
        shipped == (REPO / "target" / "wasm32-wasip2" / "release" / "agentcell_component.wasm").read_bytes()
    )
    assert edge.find(shipped) > 0, "the edge build does not hold agentcell.wasm byte for byte"


@pytest.fixture(scope="module")
def wasmtime_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeServer]:
    if not WASMTIME.exists():
        if os.environ.get("CI"):
            raise AssertionError(f"{WASMTIME} is required in CI (make target/tools/bin/wasmtime)")
        pytest.skip("the wasmtime command is not built")
    server = EdgeServer("wasmtime", tmp_path_factory.mktemp("wasmtime"))
    yield server
    server.stop()


# `wasmtime serve` makes a new instance and a new key-value store for every request (its
# wasi:keyvalue is in memory and starts from the command line's data each time), so it
# answers the cases that need no state kept from one request to the next.
STATELESS = [(f, c) for f, c in CASES if c.get("stateless")]


@pytest.mark.parametrize("case", [c for _, c in STATELESS], ids=[f"{f}: {c['name']}" for f, c in STATELESS])
def test_wasmtime_serve_answers_the_stateless_vectors(
    case: dict[str, Any], wasmtime_server: EdgeServer
) -> None:
    run_case(wasmtime_server, case)


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[f"{f}: {c['name']}" for f, c in CASES])
def test_jco_serve_answers_every_vector(case: dict[str, Any], tmp_path: Path) -> None:
    server = EdgeServer("jco", tmp_path)
    try:
        run_case(server, case)
    finally:
        server.stop()


def test_agentcell_serve_answers_the_same_vectors(tmp_path: Path) -> None:
    for _file, case in CASES:
        server = Server(tmp_path / case["name"][:20].replace(" ", "-"), "--rate-limit", "0")
        try:
            run_case(server, case)
        finally:
            server.stop()
