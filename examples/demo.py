"""The main demo: agentcell from Python on the embedded default (a SQLite file).

Run it with `make demo`. Every run adds one to a counter kept in
`agentcell-data/demo.db`, so run it twice and watch the number grow.
"""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import agentcell


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    print(f"agentcell {agentcell.__version__}: {agentcell.get_rust_version()}")
    print(f"health check: {agentcell.health_check()}")
    info = agentcell.build_info()
    print(f"component: {info.target}, sha256 {info.wasm_sha256[:16]}...")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    local = f"127.0.0.1:{server.server_address[1]}"

    data = Path("agentcell-data")
    rt = agentcell.Runtime(data / "demo.db", agentcell.HttpPolicy(allow=[local], timeout=5))
    runs = agentcell.counter_add("demo-runs", 1, rt)
    print(f"demo runs so far (SQLite file {data / 'demo.db'}): {runs}")

    probe = agentcell.probe_url(f"http://{local}/health", rt=rt)
    print(f"probe {probe.url}: {probe.status} healthy={probe.healthy} in {probe.elapsed_ms} ms")
    try:
        agentcell.probe_url("https://example.com/", rt=rt)
    except agentcell.HttpDeniedError as e:
        print(f"denied as configured: {e}")

    # The shipped component cannot trap on purpose; the test build (`make wasm` writes
    # it beside the shipped one) can, over the same storage.
    test_build = Path(__file__).resolve().parents[1] / "target" / "agentcell-test.wasm"
    if test_build.exists():
        trial = agentcell.Runtime(rt.storage, wasm=test_build)
        try:
            trial.exports.testing.trap("demonstrating recovery")
        except agentcell.ComponentTrap as e:
            print(f"trap caught: {str(e).splitlines()[0]}")
        count = agentcell.counter_get("demo-runs", trial)
        print(f"after the trap the runtime still works and nothing was lost: counter = {count}")

    snapshot = (
        agentcell.StateSnapshot.builder()
        .user_id("user_123")
        .source(agentcell.Source.SELF_REPORT)
        .axis("warmth", 0.9)
        .axis("cognitive_load", 0.9)
        .runtime(rt)
        .build()
    )
    context = agentcell.RuleTranslator(rt=rt).to_prompt_context(snapshot)
    print(f"attune: tone={context.tone} verbosity={context.verbosity.value} flags={list(context.flags)}")
    for guideline in context.guidelines:
        print(f"  - {guideline}")

    ai_spine(rt)
    server.shutdown()


def ai_spine(rt: agentcell.Runtime) -> None:
    """An AI Spine flow run in this process: two Python functions as agents, a branch
    each, and an agent-less node that merges them, kept in the same SQLite file."""
    from agentcell.flows import FlowEngine

    with FlowEngine(runtime=rt) as engine:
        engine.register_agent("scorer", lambda data: {"score": data["amount"] / 1000})
        engine.register_agent("checker", lambda data: {"checked": data["amount"] < 100_000})
        if not any(f["flow_id"] == "credit" for f in engine.list_flows()):
            engine.create_flow(
                {
                    "flow_id": "credit",
                    "name": "Credit",
                    "entry_point": "score",
                    "exit_points": ["decide"],
                    "nodes": [
                        {"id": "score", "type": "input", "agent_id": "scorer"},
                        {"id": "check", "type": "input", "agent_id": "checker"},
                        {"id": "decide", "type": "output", "depends_on": ["score", "check"]},
                    ],
                }
            )
        run = engine.run("credit", {"amount": 50_000})
        print(f"ai spine: execution {run['status']}, result {run['output_data']['decide']}")
        print(f"ai spine: {engine.get_metrics()['total_executions']} executions kept in the SQLite file")


if __name__ == "__main__":
    main()
