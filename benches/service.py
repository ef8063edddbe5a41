"""Service benchmarks: `agentcell serve` under wrk on loopback, auth on, for
`GET /v1/context/{id}` and `POST /v1/state`, with the in-memory and the SQLite backend.

    make bench            # or: .venv/bin/python benches/service.py (needs wrk)

Anchor (issue 4): upstream Attuned's axum server, in-memory and without auth, answers
GET /v1/context at ~90,000 requests/s, p99 1.5 ms, with wrk -t2 -c32 on this machine.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AGENTCELL = ROOT / "target" / "release" / "agentcell"
KEY = "sk_bench"
POST_LUA = """
wrk.method = "POST"
wrk.body = '{"user_id":"bench","axes":{"warmth":0.9,"cognitive_load":0.8}}'
wrk.headers["Content-Type"] = "application/json"
"""


def wrk(url: str, *extra: str) -> tuple[float, str, str]:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", "-d5s", "--latency", "-H", f"Authorization: Bearer {KEY}", *extra, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{errors.group(1)} failed responses:\n{out}")
    return rps, p50, p99


def run(backend: list[str], label: str) -> list[str]:
    with tempfile.TemporaryDirectory() as data:
        args = [str(AGENTCELL), "serve", "--addr", "127.0.0.1:0", "--api-key", KEY, "--rate-limit", "0"]
        proc = subprocess.Popen([*args, *backend, "--data", data], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            base = proc.stdout.readline().strip().rsplit(" ", 1)[-1]
            seed = urllib.request.Request(
                f"{base}/v1/state",
                data=json.dumps({"user_id": "bench", "axes": {"warmth": 0.9}}).encode(),
                headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
                method="POST",
            )
            urllib.request.urlopen(seed, timeout=5).close()
            rows = []
            rps, p50, p99 = wrk(f"{base}/v1/context/bench")
            rows.append(f"{'GET /v1/context, ' + label:34} {rps:>12,.0f}/s  p50 {p50:>8}  p99 {p99:>8}")
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
                script.write(POST_LUA)
            rps, p50, p99 = wrk(f"{base}/v1/state", "-s", script.name)
            rows.append(f"{'POST /v1/state, ' + label:34} {rps:>12,.0f}/s  p50 {p50:>8}  p99 {p99:>8}")
            return rows
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def main() -> None:
    print("agentcell serve under wrk -t2 -c32 -d5s, auth on")
    print("targets: >= 90k/s in memory, >= 60k/s with SQLite, p99 < 2 ms")
    for row in run(["--memory"], "memory") + run([], "SQLite"):
        print(row)


if __name__ == "__main__":
    main()
