"""Edge benchmark (issue 19): the edge build (`target/edge/agentcell-http.wasm`) under
`wasmtime serve` and `jco serve` against `agentcell serve`, the same wrk load on
loopback in the same run, API keys on:

* `POST /v1/translate`: a snapshot in the body to its prompt context (no storage);
* `GET /v1/context/bench`: a stored user's context. `wasmtime serve` gives each request
  a new instance and a new key-value store (its wasi:keyvalue starts from the command
  line's data every time, and values given there cannot hold a comma, which any stored
  state does), so there the user is never found and the figure is of the 404 answer.

    .venv/bin/python benches/edge.py      # part of `make bench`; needs wrk

Where the time goes in `wasmtime serve`: it instantiates the composed component (three
components, the core's data segments copied in) for every request; `agentcell serve`
keeps one warm instance per worker thread.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from service import KEY, wrk  # the same load generator and key as the service benchmark

ROOT = Path(__file__).resolve().parents[1]
AGENTCELL = ROOT / "target" / "release" / "agentcell"
WASMTIME = ROOT / "target" / "tools" / "bin" / "wasmtime"
EDGE = ROOT / "target" / "edge" / "agentcell-http.wasm"
JCO = ROOT / "host-js" / "node_modules" / "@bytecodealliance" / "jco" / "dist" / "jco.js"
EDGE_JS = ROOT / "host-js" / "src" / "edge"
TRANSLATE_LUA = """
wrk.method = "POST"
wrk.body = '{"axes":{"warmth":0.9,"cognitive_load":0.8,"verbosity_preference":0.2}}'
wrk.headers["Content-Type"] = "application/json"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(kind: str, data: Path) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    env = {**os.environ, "AGENTCELL_API_KEYS": KEY}
    if kind == "agentcell serve":
        # No rate limit: the edge build has none (docs/edge.md), so neither side counts.
        cmd = [str(AGENTCELL), "serve", "--addr", f"127.0.0.1:{port}", "--data", str(data), "--api-key", KEY]
        cmd += ["--rate-limit", "0"]
    elif kind == "wasmtime serve":
        cmd = [str(WASMTIME), "serve", "--addr", f"127.0.0.1:{port}", "-S", "cli", "-S", "keyvalue",
               "-S", "config", "-S", f"config-var=api-keys={KEY}", str(EDGE)]  # fmt: skip
    else:
        cmd = ["node", str(JCO), "serve", str(EDGE), "--host", "127.0.0.1", "--port", str(port),
               "--jco-dir", str(data / "jco"),
               "--jco-map", f"wasi:keyvalue/*={(EDGE_JS / 'keyvalue.js').as_uri()}#*",
               "--jco-map", f"wasi:config/*={(EDGE_JS / 'config.js').as_uri()}#*"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{base}/health", timeout=5).close()
            return proc, base
        except (urllib.error.URLError, OSError):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{kind} did not come up") from None
            time.sleep(0.2)


def measure(kind: str) -> dict[str, tuple[float, str, str]]:
    with tempfile.TemporaryDirectory() as data:
        proc, base = start(kind, Path(data))
        try:
            seed = urllib.request.Request(
                f"{base}/v1/state",
                data=json.dumps({"user_id": "bench", "axes": {"warmth": 0.9}}).encode(),
                headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
                method="POST",
            )
            urllib.request.urlopen(seed, timeout=5).close()
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
                script.write(TRANSLATE_LUA)
            return {
                "POST /v1/translate": wrk(f"{base}/v1/translate", "-s", script.name),
                "GET /v1/context": wrk(f"{base}/v1/context/bench", allow_non_2xx=kind == "wasmtime serve"),
            }
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def main() -> None:
    servers = ["agentcell serve", "wasmtime serve", "jco serve"]
    results = {kind: measure(kind) for kind in servers}
    print("the edge build against agentcell serve: wrk -t2 -c32 -d5s on loopback, API keys on")
    for route in ("POST /v1/translate", "GET /v1/context"):
        print(f"\n{route}")
        ours = results["agentcell serve"][route][0]
        for kind in servers:
            rps, p50, p99 = results[kind][route]
            note = (
                " (404: no state kept between requests)"
                if kind == "wasmtime serve" and "context" in route
                else ""
            )
            print(f"  {kind:16} {rps:>10,.0f} req/s  p50 {p50:>8}  p99 {p99:>8}  {rps / ours:6.3f}x{note}")


if __name__ == "__main__":
    main()
