"""Boundary benchmarks: agentcell's Python call path against wasmtime-py's default
`Func.__call__` path on the same component, measured in the same run.

    make bench            # or: .venv/bin/python benches/boundary.py

Prints medians; the ratio column is baseline / ours (higher is better for us).
Absolute times drift with the machine, ratios hold.
"""

from __future__ import annotations

import binascii
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import wasmtime
import wasmtime.component as wc

ROOT = Path(__file__).resolve().parents[1]
# The shipped component (start-up) and the test build, which adds the `bench` interface
# the call benchmarks use (`make wasm` builds both).
SHIPPED_WASM = ROOT / "host-python" / "agentcell" / "agentcell.wasm"
WASM = ROOT / "target" / "agentcell-test.wasm"


def median_seconds(fn: Callable[[], Any], *, repeat: int, inner: int = 1) -> float:
    fn()  # warm up
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t) / inner)
    return statistics.median(samples)


def _unavailable(*_args: Any) -> Any:
    raise RuntimeError("not available in the baseline")


class Baseline:
    """wasmtime-py's documented default path: Component, Linker, Func.__call__."""

    def __init__(self) -> None:
        engine = wasmtime.Engine()
        component = wc.Component.from_file(engine, str(WASM))
        linker = wc.Linker(engine)
        linker.add_wasip2()
        # Our own imports through wasmtime-py's standard add_func; the benchmarked
        # calls never reach them. (define_unknown_imports_as_traps would also shadow
        # the WASI 0.2.6 names that add_wasip2 provides by semver matching.)
        with linker.root() as root:
            for iface, names in (
                (
                    "storage",
                    (
                        "get",
                        "set",
                        "delete",
                        "exists",
                        "list-keys",
                        "get-many",
                        "set-many",
                        "delete-many",
                        "compare-and-set",
                    ),
                ),
                ("http-client", ("send",)),
            ):
                with root.add_instance(f"agentcell:core/{iface}@0.1.0") as inst:
                    for name in names:
                        inst.add_func(name, _unavailable)
        self.store = wasmtime.Store(engine)
        self.store.set_wasi(wasmtime.WasiConfig())
        self.instance = linker.instantiate(self.store, component)

    def func(self, interface: str, name: str) -> Callable[..., Any]:
        iface = self.instance.get_export_index(self.store, f"agentcell:core/{interface}@0.1.0")
        f = self.instance.get_func(self.store, self.instance.get_export_index(self.store, name, iface))
        return lambda *args: f(self.store, *args)


# Start-up is timed inside a fresh process, from before the first import to after the
# first call, so the interpreter's own start and exit are not counted.
TIMED = "import time; _t = time.perf_counter()\n{body}\nprint(time.perf_counter() - _t)"
STARTUP_OURS = TIMED.format(body="import agentcell; agentcell.health_check()")
STARTUP_FLOOR = TIMED.format(body="import wasmtime, wasmtime.component")
STARTUP_BASE = TIMED.format(
    body=f"""
import wasmtime, wasmtime.component as wc
e = wasmtime.Engine(); c = wc.Component.from_file(e, {str(SHIPPED_WASM)!r}); l = wc.Linker(e)
l.add_wasip2(); l.define_unknown_imports_as_traps(c); s = wasmtime.Store(e); s.set_wasi(wasmtime.WasiConfig())
i = l.instantiate(s, c); b = i.get_export_index(s, 'agentcell:core/meta@0.1.0')
i.get_func(s, i.get_export_index(s, 'health-check', b))(s)
"""
)


def startup(code: str, cache_dir: str, runs: int = 15) -> float:
    env = {**os.environ, "AGENTCELL_CACHE_DIR": cache_dir}
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            check=True,
            cwd=ROOT / "host-python",
            capture_output=True,
            text=True,
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def startup_cold(code: str, runs: int = 5) -> float:
    samples = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as empty:
            samples.append(startup(code, empty, runs=1))
    return statistics.median(samples)


def import_floor() -> float:
    return startup(STARTUP_FLOOR, tempfile.gettempdir())


def main() -> None:
    sys.path.insert(0, str(ROOT / "host-python"))
    import agentcell

    rt = agentcell.Runtime(":memory:", wasm=WASM)
    base = Baseline()
    rows: list[tuple[str, float, float, str, str]] = []

    def row(name: str, ours: float, baseline: float, unit: str, target: str) -> None:
        rows.append((name, ours, baseline, unit, target))

    floor = import_floor()
    with tempfile.TemporaryDirectory() as warm_cache:
        startup(STARTUP_OURS, warm_cache, runs=1)  # fill the cache
        row(
            "start-up, warm cache",
            startup(STARTUP_OURS, warm_cache),
            startup(STARTUP_BASE, warm_cache),
            "ms",
            "<= 50 ms",
        )
    row(
        "start-up, cold (no cache)",
        startup_cold(STARTUP_OURS),
        startup_cold(STARTUP_BASE),
        "ms",
        "",
    )

    noop = base.func("bench", "noop")
    noop_base = median_seconds(noop, repeat=15, inner=500)
    row(
        "no-op call",
        median_seconds(lambda: rt.call("bench", "noop"), repeat=15, inner=2000),
        noop_base,
        "us",
        "<= 3 us",
    )
    # The typed facade generated from the WIT (`rt.exports`), over the same call path.
    facade = rt.exports.bench
    row("no-op call, typed facade", median_seconds(facade.noop, repeat=15, inner=2000), noop_base, "us", "")

    sum_list = base.func("bench", "sum-f32-list")
    vec = np.random.default_rng(1).random(768, dtype=np.float32)
    vec_list = vec.tolist()
    row(
        "768-float embedding in",
        median_seconds(
            lambda: rt.call("bench", "sum-f32-blob", vec.tobytes().hex()),
            repeat=15,
            inner=300,
        ),
        median_seconds(lambda: sum_list(vec_list), repeat=5, inner=20),
        "us",
        "<= 20 us",
    )
    row(
        "768-float embedding in, facade",
        median_seconds(lambda: facade.sum_f32_blob(vec.tobytes().hex()), repeat=15, inner=300),
        next(r[2] for r in rows if r[0] == "768-float embedding in"),
        "us",
        "",
    )

    bytes_in = base.func("bench", "bytes-in")
    bytes_out = base.func("bench", "bytes-out")
    sizes = (("3 KiB", 3 * 1024, 15, 7), ("1 MiB", 1 << 20, 9, 3))
    payloads = {size: os.urandom(size) for _, size, _, _ in sizes}

    def bulk_ours(size: int, reps: int) -> tuple[float, float]:
        data, inner = payloads[size], (20 if size < 4096 else 3)
        t_in = median_seconds(
            lambda: rt.call("bench", "blob-in", binascii.hexlify(data)),
            repeat=reps,
            inner=inner,
        )
        t_out = median_seconds(lambda: rt.call_blob("bench", "blob-out", size, 0), repeat=reps, inner=inner)
        return t_in, t_out

    for label, size, reps, base_reps in sizes:
        ours_in, ours_out = bulk_ours(size, reps)
        base_in = median_seconds(lambda d=payloads[size]: bytes_in(d), repeat=base_reps, inner=1)
        base_out = median_seconds(lambda n=size: bytes_out(n, 0), repeat=base_reps, inner=1)
        target = ">= 300 MB/s" if size > 4096 else ""
        row(f"{label} in", ours_in, base_in, "MB/s:" + str(size), target)
        row(f"{label} out", ours_out, base_out, "MB/s:" + str(size), target)
    # The same with glibc's allocator tuned (opt-in: agentcell.tune_allocator()),
    # against the same baseline figures.
    tuned = agentcell.tune_allocator()
    for label, size, reps, _ in sizes:
        if not tuned:
            break
        ours_in, ours_out = bulk_ours(size, reps)
        base_in, base_out = (
            next(r[2] for r in rows if r[0] == f"{label} in"),
            next(r[2] for r in rows if r[0] == f"{label} out"),
        )
        row(f"{label} in, tune_allocator()", ours_in, base_in, "MB/s:" + str(size), "")
        row(
            f"{label} out, tune_allocator()",
            ours_out,
            base_out,
            "MB/s:" + str(size),
            "",
        )

    print(
        f"agentcell boundary benchmarks (wasmtime-py {wasmtime_version()}, Python {sys.version.split()[0]})"
    )
    print("baseline: wasmtime-py's default Func.__call__ on the same component, same run")
    print(f"start-up floor: `import wasmtime, wasmtime.component` alone takes {floor * 1e3:.1f} ms")
    print(f"{'benchmark':34} {'agentcell':>14} {'wasmtime-py':>14} {'ratio':>9}  target")
    for name, ours, baseline, unit, target in rows:
        if unit.startswith("MB/s:"):
            size = int(unit.split(":")[1])
            o, b = (
                f"{size / ours / 1e6:,.1f} MB/s",
                f"{size / baseline / 1e6:,.2f} MB/s",
            )
        elif unit == "ms":
            o, b = f"{ours * 1e3:.1f} ms", f"{baseline * 1e3:.1f} ms"
        else:
            o, b = f"{ours * 1e6:.2f} us", f"{baseline * 1e6:.2f} us"
        print(f"{name:34} {o:>14} {b:>14} {baseline / ours:>8.1f}x  {target}")
    wheel = build_wheel_size()
    print(f"{'wheel size':34} {wheel / 1e6:>11.2f} MB {'':>14} {'':>9}  <= 5 MB")


def wasmtime_version() -> str:
    from importlib.metadata import version

    return version("wasmtime")


def build_wheel_size() -> int:
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "build",
                "--wheel",
                "--no-isolation",
                "--outdir",
                out,
            ],
            cwd=ROOT / "host-python",
            check=True,
            capture_output=True,
        )
        (wheel,) = Path(out).glob("*.whl")
        return wheel.stat().st_size


if __name__ == "__main__":
    main()
