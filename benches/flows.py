"""AI Spine benchmarks: `agentcell serve` against a FastAPI baseline, in the same run.

    make bench            # or: .venv/bin/python benches/flows.py (needs wrk)

Both servers answer with API keys on, are seeded with the same agents and flows, and
call the same stub agent (host-rust/examples/stub_agent.rs, native, answering at once).
The baseline is a minimal FastAPI server of the same routes shaped as upstream's backend
(benches/aispine_fastapi_stub.py; uvicorn, one worker), labelled as such: upstream's
backend itself needs a checkout and its own dependency set, which this benchmark does not
fetch. Upstream's backend was measured at ~3,000 GET /health and ~1,900-2,800 GET /flows
per second on this kind of 2-core machine (issue 15).

Measured: GET /health and GET /flows under wrk (-t2 -c32 -d5s); executions of a 3-node
flow (a -> b -> c, each an agent call), by host-rust/examples/flows_load.rs: a burst of
`--executions` started at once over `--clients` connections (executions completed per
second from first start to last end, and their latency, queueing included), then
`--serial` executions one at a time (the latency on an idle server). Latency is what each
server recorded (created_at to completed_at). Ratios hold across machines; absolute
figures do not.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
AGENTCELL = ROOT / "target" / "release" / "agentcell"
EXAMPLES = ROOT / "target" / "release" / "examples"
KEY = "sk_bench"


def wrk(url: str) -> tuple[float, str, str]:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", "-d5s", "--latency", "-H", f"Authorization: Bearer {KEY}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{errors.group(1)} failed responses:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
    return rps, p50, p99


def post(base: str, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()


def seed(base: str, agent_base: str) -> None:
    for name in ("zoe", "eddie", "result"):
        agent = {
            "agent_id": name,
            "name": name,
            "description": "bench",
            "endpoint": f"{agent_base}/{name}",
            "capabilities": [],
            "agent_type": "processor",
        }
        post(base, "/agents", agent)
    nodes = [
        {"id": "a", "type": "input", "agent_id": "zoe"},
        {"id": "b", "type": "processor", "agent_id": "eddie", "depends_on": ["a"]},
        {"id": "c", "type": "output", "agent_id": "result", "depends_on": ["b"]},
    ]
    post(
        base,
        "/flows",
        {"flow_id": "bench", "name": "bench", "nodes": nodes, "entry_point": "a", "exit_points": ["c"]},
    )
    for i in range(4):  # GET /flows lists five flows
        post(base, "/flows", {"flow_id": f"f{i}", "name": f"f{i}", "nodes": nodes, "entry_point": "a"})


def load(base: str, *mode: str) -> dict[str, float]:
    out = subprocess.run(
        [str(EXAMPLES / "flows_load"), base, KEY, "bench", *mode],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def start(args: list[str], ready: str) -> tuple[subprocess.Popen[str], str]:
    """Starts a server that prints `ready ... http://host:port` on stdout or stderr."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        found = re.search(r"http://[\d.]+:\d+", line)
        if ready in line and found:
            return proc, found.group(0)
    proc.kill()
    raise RuntimeError(f"{args[0]} did not start")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def measure(base: str, health: str, agent_base: str, args: argparse.Namespace) -> dict[str, Any]:
    seed(base, agent_base)
    return {
        "GET /health": wrk(base + health),
        "GET /flows": wrk(base + "/flows"),
        "burst": load(base, "burst", str(args.executions), str(args.clients)),
        "serial": load(base, "serial", str(args.serial)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=2000, help="executions started in the burst")
    parser.add_argument("--clients", type=int, default=16, help="connections starting them")
    parser.add_argument("--serial", type=int, default=200, help="executions run one at a time")
    args = parser.parse_args()

    agent_proc, agent_base = start([str(EXAMPLES / "stub_agent"), "127.0.0.1:0"], "listening")
    results: dict[str, dict[str, Any]] = {}
    try:
        with tempfile.TemporaryDirectory() as data:
            serve = [str(AGENTCELL), "serve", "--addr", "127.0.0.1:0", "--api-key", KEY, "--rate-limit", "0"]
            serve += ["--allow-agent", "127.0.0.1", "--data", data]
            proc, base = start(serve, "listening")
            try:
                results["agentcell"] = measure(base, "/api/v1/health", agent_base, args)
            finally:
                proc.terminate()
                proc.wait(timeout=10)
        port = free_port()
        uvicorn = [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(ROOT / "benches"),
            "aispine_fastapi_stub:app",
        ]
        uvicorn += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log"]
        proc, base = start(uvicorn, "Uvicorn running")
        try:
            results["baseline"] = measure(base, "/health", agent_base, args)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    finally:
        agent_proc.terminate()
        agent_proc.wait(timeout=10)

    ours, theirs = results["agentcell"], results["baseline"]
    print("AI Spine: agentcell serve (SQLite, API keys on) against a FastAPI stub of upstream's backend")
    print("(uvicorn, one worker, keys on), same stub agent, same run")
    print(f"{'':34} {'agentcell':>14} {'baseline':>14} {'ratio':>8}")
    for route in ("GET /health", "GET /flows"):
        (a, a50, a99), (b, _, _) = ours[route], theirs[route]
        print(f"{route + ' (req/s)':34} {a:>14,.0f} {b:>14,.0f} {a / b:>7.1f}x   ours p50 {a50}, p99 {a99}")
    rate, base_rate = ours["burst"]["per_second"], theirs["burst"]["per_second"]
    print(
        f"{'3-node executions completed/s':34} {rate:>14,.1f} {base_rate:>14,.1f}"
        f" {rate / base_rate:>7.1f}x   ({args.executions} started at once)"
    )
    for mode, label in (("burst", "in the burst"), ("serial", "one at a time")):
        for key in ("p50_ms", "p99_ms"):
            a, b = ours[mode][key], theirs[mode][key]
            name = f"  latency {key[:3]} {label} (ms)"
            print(f"{name:34} {a:>14.1f} {b:>14.1f} {b / max(a, 0.5):>7.1f}x lower")
    failed = {name: r["burst"]["failed"] + r["serial"]["failed"] for name, r in results.items()}
    print(
        f"(executions not completed: agentcell {failed['agentcell']:.0f}, baseline {failed['baseline']:.0f})"
    )


if __name__ == "__main__":
    main()
