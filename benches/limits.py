"""Limits and plugins benchmark (issue 19), every figure measured in this run:

* the cost of the limits: calls per second of the core's no-op with no limits, with the
  memory cap, and with cap and deadline (Python, Rust, JS);
* the cost of epoch interruption itself on a loop-heavy call (the sum of 1M floats sent
  as a hex blob): the engine agentcell runs (epoch checks compiled in) against a plain
  engine without them (Python);
* plugin call overhead: a no-op plugin (echo of a small JSON document) against the same
  JSON round trip done natively, in each host.

    .venv/bin/python benches/limits.py          # part of `make bench`

Ratios hold across machines, absolute figures do not.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import wasmtime
from wasmtime.component import Component

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host-python"))

from agentcell import Limits  # noqa: E402
from agentcell._wasm import runtime as rt_module  # noqa: E402
from agentcell._wasm.runtime import LoadedComponent, Runtime  # noqa: E402
from agentcell.plugins import PLUGIN_LIMITS, Plugin  # noqa: E402

TEST_WASM = ROOT / "target" / "agentcell-test.wasm"
ECHO = ROOT / "target" / "plugins" / "wasm32-wasip2" / "release" / "misbehave.wasm"
INPUT = '{"do": "echo", "id": 42, "tags": ["a", "b"]}'
NO_LIMITS = Limits(memory_mb=None, call_timeout_ms=None)


def per_second(fn: Callable[[], Any], seconds: float = 1.0) -> float:
    for _ in range(100):
        fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            fn()
        n += 100
    return n / (time.perf_counter() - start)


def plain_engine_runtime() -> Runtime:
    """A runtime on an engine without epoch interruption (the baseline of its cost)."""
    engine = wasmtime.Engine()
    wasm = TEST_WASM.read_bytes()
    loaded = LoadedComponent(engine, Component(engine, wasm), TEST_WASM.resolve(), "plain", False, 0.0)
    key = (Path("/plain-engine"), False)
    rt_module._LOADED[key] = loaded
    rt = Runtime.__new__(Runtime)
    original = rt_module.load_component
    rt_module.load_component = lambda *_a, **_k: loaded  # type: ignore[assignment]
    try:
        Runtime.__init__(rt, ":memory:", limits=NO_LIMITS)
    finally:
        rt_module.load_component = original
    return rt


def python_figures() -> dict[str, float]:
    """Each configuration measured in turns, three rounds, best of each (so none gains
    from going first)."""
    calls: dict[str, Callable[[], Any]] = {}
    for name, limits in (
        ("no_limits", NO_LIMITS),
        ("memory_cap", Limits()),
        ("cap_and_deadline", Limits(call_timeout_ms=1000)),
    ):
        calls[f"core_noop_{name}"] = Runtime(":memory:", wasm=TEST_WASM, limits=limits).export(
            "bench", "noop"
        )
        plugin = Plugin(ECHO, limits=limits)
        calls[f"plugin_echo_{name}"] = lambda p=plugin: p.call_json(INPUT)
    default = Plugin(ECHO, limits=PLUGIN_LIMITS)
    calls["plugin_echo_default_limits"] = lambda: default.call_json(INPUT)
    calls["native_echo"] = lambda: json.dumps(json.loads(INPUT))
    blob = np.random.default_rng(1).random(1 << 20, dtype=np.float32).tobytes().hex()
    ours = Runtime(":memory:", wasm=TEST_WASM, limits=Limits(call_timeout_ms=60_000))
    plain = plain_engine_runtime()
    calls["sum_1m_floats_epoch_engine"] = lambda: ours.call("bench", "sum-f32-blob", blob)
    calls["sum_1m_floats_plain_engine"] = lambda: plain.call("bench", "sum-f32-blob", blob)
    out: dict[str, float] = {}
    for _ in range(3):
        for key, fn in calls.items():
            out[key] = max(out.get(key, 0.0), per_second(fn, 0.4))
    return out


def figures_from(command: list[str]) -> dict[str, float]:
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def table(host: str, f: dict[str, float]) -> None:
    print(f"\n{host}: calls per second (ratio: to the first line of its group)")
    base = f["core_noop_no_limits"]
    for key in ("core_noop_no_limits", "core_noop_memory_cap", "core_noop_cap_and_deadline"):
        print(f"  {key:34} {f[key]:>12,.0f}   {f[key] / base:5.2f}x")
    native = f["native_echo"]
    print(f"  {'native_echo (baseline)':34} {native:>12,.0f}   1.00x")
    for key in sorted(k for k in f if k.startswith("plugin_echo")):
        print(f"  {key:34} {f[key]:>12,.0f}   {f[key] / native:5.2f}x  ({1e6 / f[key]:.1f} us a call)")


def main() -> None:
    py = python_figures()
    table("Python (wasmtime-py)", py)
    ours, plain = py["sum_1m_floats_epoch_engine"], py["sum_1m_floats_plain_engine"]
    print(
        f"  sum of 1M floats, epoch engine       {ours:>12,.1f}   vs plain engine {plain:,.1f}: "
        f"{ours / plain:.2f}x (epoch checks in loops)"
    )
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "agentcell-host", "--example", "plugin_bench"],
        cwd=ROOT,
        check=True,
    )
    table(
        "Rust (wasmtime)",
        figures_from([str(ROOT / "target" / "release" / "examples" / "plugin_bench"), "1.0"]),
    )
    table("JS (jco, Node)", figures_from(["node", "benches/plugins_js.mjs", "1.0"]))


if __name__ == "__main__":
    main()
