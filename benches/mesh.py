"""Mesh benchmark (issue 14): signatures inside the component against the same crate
compiled natively, and signed messages across OS processes on the SQLite bus and on
Redis next to raw redis-py pub/sub (no signatures), all in the same run.

    .venv/bin/python benches/mesh.py [--messages 2000] [--paced 300]

1. ML-DSA-65 sign and verify per second of 1 KiB envelopes: natively (the baseline),
   from the Rust host, from Python (verify in batches of 64, as subscribers read).
2. Throughput: two publisher processes flood one topic, one subscriber process
   receives; messages per second from the publishers' start to the last delivery.
3. Latency: one publisher sends a message every 2 ms; publish-to-delivery p50/p99.
4. Bursts: the publishers make 64 publishes at a time concurrently (`asyncio.gather`),
   which an agent signs as one batch envelope: one signature per 64 messages.
Every run checks that nothing was lost or delivered twice.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEER = Path(__file__).resolve().parent / "mesh_apps" / "peer.py"
PY = sys.executable
SIGN_BIN = ROOT / "target" / "release" / "examples" / "mesh_sign"


def python_signatures(seconds: float) -> tuple[float, float]:
    from agentcell._wasm import Runtime
    from agentcell.bus import MemoryBus

    rt = Runtime(":memory:", bus=MemoryBus())
    mesh = rt.exports.mesh
    keys = mesh.generate_key("01" * 32)
    body = (b"x" * 1024).hex()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        mesh.seal(keys, "message", "bench", body)
        n += 1
    sign = n / (time.perf_counter() - start)
    batch = [mesh.seal(keys, "message", "bench", body)] * 64
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        mesh.open("bench", batch)
        n += 64
    return sign, n / (time.perf_counter() - start)


def start(args: list[str], stdin: bool = False) -> subprocess.Popen[str]:
    p = subprocess.Popen(
        [PY, str(PEER), *args],
        stdout=subprocess.PIPE,
        text=True,
        stdin=subprocess.PIPE if stdin else None,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    return p


def run_pair(
    raw: bool, url: str, count: int, publishers: int, interval: float, together: int = 1
) -> dict[str, float]:
    per = count // publishers
    sub = start(["rawsub" if raw else "sub", url, str(per * publishers)])
    pubs = [
        start(["rawpub" if raw else "pub", url, str(per), str(interval), str(together)], stdin=True)
        for _ in range(publishers)
    ]
    time.sleep(0.2)
    began = time.time()
    for p in pubs:
        assert p.stdin is not None
        p.stdin.write("\n")
        p.stdin.flush()
    for p in pubs:
        p.wait(timeout=600)
    assert sub.stdout is not None
    result = json.loads(sub.stdout.readline())
    sub.wait(timeout=60)
    assert result["received"] == per * publishers == result["distinct"], "lost or duplicated"
    lat = sorted(result["latencies_ms"])
    return {
        "per_s": result["received"] / (result["last"] - began),
        "p50": statistics.median(lat),
        "p99": lat[int(len(lat) * 0.99) - 1],
    }


def redis_server() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--paced", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()

    native = json.loads(
        subprocess.run(
            [str(SIGN_BIN), str(args.seconds)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    py_sign, py_verify = python_signatures(args.seconds)
    print("ML-DSA-65, 1 KiB envelopes, per second (ratio to native):")
    print(
        f"  sign:   native {native['native_sign']:8.0f} | Rust host {native['rust_host_sign']:8.0f} "
        f"({native['rust_host_sign'] / native['native_sign']:.2f}x) | Python {py_sign:8.0f} "
        f"({py_sign / native['native_sign']:.2f}x)"
    )
    print(
        f"  verify: native {native['native_verify']:8.0f} | Rust host {native['rust_host_verify']:8.0f} "
        f"({native['rust_host_verify'] / native['native_verify']:.2f}x) | Python {py_verify:8.0f} "
        f"({py_verify / native['native_verify']:.2f}x)"
    )
    batch = native["rust_host_batch64_per_message"]
    print(
        f"  sign, batches of 64 (Rust host, per message): {batch:8.0f} "
        f"({batch / native['native_sign']:.1f}x native single signatures)"
    )

    tmp = Path(tempfile.mkdtemp())
    cases = [("agentcell, SQLite bus", False, str(tmp / "bus.db"))]
    proc = None
    if shutil.which("redis-server"):
        proc, url = redis_server()
        cases += [
            ("agentcell, Redis bus", False, url),
            ("raw redis-py pub/sub, unsigned", True, url),
        ]
    try:
        print(
            f"\nAcross processes, 1 KiB payloads ({args.messages} flooded by 2 publishers; "
            f"{args.paced} paced at 2 ms for latency):"
        )
        for name, raw, url in cases:
            flood = run_pair(raw, url, args.messages, 2, 0.0)
            paced = run_pair(raw, url, args.paced, 1, 0.002)
            print(
                f"  {name:34s} {flood['per_s']:8.0f} msg/s | latency p50 {paced['p50']:6.2f} ms, "
                f"p99 {paced['p99']:6.2f} ms | no loss, no duplicate"
            )
            if not raw:
                burst = run_pair(raw, url, args.messages * 5, 2, 0.0, together=64)
                label = name + ", 64 at a time"
                print(f"  {label:34s} {burst['per_s']:8.0f} msg/s (concurrent publishes signed together)")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
