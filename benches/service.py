"""Service benchmarks: `agentcell serve` under wrk on loopback, auth on, for
`GET /v1/context/{id}` and `POST /v1/state`, with the in-memory and the SQLite backend.

    make bench            # or: .venv/bin/python benches/service.py (needs wrk)
    .venv/bin/python benches/service.py --previous OTHER/target/release/agentcell
                          # also measures another build in the same rounds (A/B)

Anchor (issue 4): upstream Attuned's axum server, in-memory and without auth, answers
GET /v1/context at ~90,000 requests/s, p99 1.5 ms, with wrk -t2 -c32 on this machine.
Measured in the same run as our figures: `native_baseline` (host-rust/examples), an
axum server shaped like upstream's (in-memory map behind a lock, native translator, no
auth) running our own domain code compiled natively. The ratio is what the component
sandbox, the instance pool and API keys cost; absolute figures move with the machine.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AGENTCELL = ROOT / "target" / "release" / "agentcell"
BASELINE = ROOT / "target" / "release" / "examples" / "native_baseline"
KEY = "sk_bench"
POST_LUA = """
wrk.method = "POST"
wrk.body = '{"user_id":"bench","axes":{"warmth":0.9,"cognitive_load":0.8}}'
wrk.headers["Content-Type"] = "application/json"
"""
# The same POST spread over 1,000 users (every connection's writes to one user contend:
# the merge is read, merge, compare-and-set, and only one of a commit's writes to a key
# can win; over many users they rarely meet).
POST_MANY_LUA = """
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"user_id":"u%d","axes":{"warmth":0.9,"cognitive_load":0.8}}', n % 1000)
  return wrk.format("POST", nil, nil, body)
end
"""


def wrk(url: str, *extra: str, allow_non_2xx: bool = False) -> tuple[float, str, str]:
    """Requests/s, p50 and p99 of wrk -t2 -c32 -d5s on `url` with the bench key; a
    non-2xx answer fails the run unless `allow_non_2xx`."""
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
    if errors and not allow_non_2xx:
        raise RuntimeError(f"{errors.group(1)} failed responses:\n{out}")
    return rps, p50, p99


def measure(args: list[str]) -> dict[str, tuple[float, str, str]]:
    """Starts the server `args` (it prints its URL last on its first line), seeds one
    user, and runs wrk on GET /v1/context and POST /v1/state."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
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
        scripts = []
        for lua in (POST_LUA, POST_MANY_LUA):
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
                script.write(lua)
            scripts.append(script.name)
        return {
            "GET /v1/context": wrk(f"{base}/v1/context/bench"),
            "POST /v1/state": wrk(f"{base}/v1/state", "-s", scripts[0]),
            "POST /v1/state, 1000 users": wrk(f"{base}/v1/state", "-s", scripts[1]),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


ROUNDS = 2
# Requests per minute per key: on, and far above what wrk sends here (~5M a minute).
RATE_LIMIT = 1_000_000_000


def best(runs: list[dict[str, tuple[float, str, str]]]) -> dict[str, tuple[float, str, str]]:
    """Per route, the run with the most requests/s (noise on a shared VM only slows)."""
    return {route: max((r[route] for r in runs), key=lambda m: m[0]) for route in runs[0]}


def serve_args(binary: Path) -> list[str]:
    return [str(binary), "serve", "--addr", "127.0.0.1:0", "--api-key", KEY, "--rate-limit", str(RATE_LIMIT)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", type=Path, default=AGENTCELL, help="the agentcell binary to measure")
    parser.add_argument("--previous", type=Path, help="another agentcell binary, measured in the same rounds")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds, each running all servers")
    args = parser.parse_args()
    previous: Path | None = args.previous
    print(
        "agentcell serve under wrk -t2 -c32 -d5s, API keys and rate limiting on (the limit far above"
        " the load, so every request is counted and admitted); baseline: native axum, no auth"
    )
    print(f"best of {args.rounds} rounds, each round running all the servers in turn")
    print("targets: >= 90k/s in memory, >= 60k/s with SQLite, p99 < 2 ms")
    builds = {"this build": args.binary, **({"previous": previous} if previous else {})}
    runs: dict[tuple[str, str], list[dict[str, tuple[float, str, str]]]] = {}
    baseline_runs: list[dict[str, tuple[float, str, str]]] = []
    for _ in range(args.rounds):
        baseline_runs.append(measure([str(BASELINE), "127.0.0.1:0"]))
        for build, binary in builds.items():
            for label, storage in (("memory", ["--memory"]), ("SQLite", [])):
                with tempfile.TemporaryDirectory() as data:
                    runs.setdefault((build, label), []).append(
                        measure([*serve_args(binary), *storage, "--data", data])
                    )
    baseline = best(baseline_runs)
    print(f"{'':40} {'agentcell':>12}  {'p50':>8}  {'p99':>8}  {'baseline':>12}  {'ratio':>6}")
    for label in ("memory", "SQLite"):
        for route, (rps, p50, p99) in best(runs[("this build", label)]).items():
            base_rps = baseline[route][0]
            print(
                f"{route + ', ' + label:34} {rps:>10,.0f}/s  {p50:>8}  {p99:>8}"
                f"  {base_rps:>10,.0f}/s  {rps / base_rps:>5.2f}x"
            )
    for route, (rps, p50, p99) in baseline.items():
        print(f"{route + ', baseline':34} {rps:>10,.0f}/s  {p50:>8}  {p99:>8}")
    if previous:
        print(f"\nthis build against {previous}, same rounds")
        print(f"{'':40} {'this build':>12}  {'previous':>12}  {'ratio':>6}")
        for label in ("memory", "SQLite"):
            now, before = best(runs[("this build", label)]), best(runs[("previous", label)])
            for route in now:
                rps, old = now[route][0], before[route][0]
                print(f"{route + ', ' + label:40} {rps:>10,.0f}/s  {old:>10,.0f}/s  {rps / old:>5.2f}x")


if __name__ == "__main__":
    main()
