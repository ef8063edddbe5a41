"""Attuned in-process benchmarks: snapshots translated per second from Python, one call
per snapshot and batched, against wasmtime-py's default `Func.__call__` on the same
component export, measured in the same run; then inference from a 200-word message,
one call each and batched, against the same and against the same inference code built
natively (`host-rust/examples/infer_native.rs`, when built).

    make bench            # or: .venv/bin/python benches/attune.py
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host-python"))
sys.path.insert(0, str(ROOT / "benches"))

from boundary import Baseline  # noqa: E402

import agentcell  # noqa: E402


class Fields:
    """A record for wasmtime-py's default path, which reads fields by WIT name."""

    def __init__(self, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(self, name.replace("_", "-"), value)


def per_second(fn: Callable[[], Any], items: int, repeat: int = 7) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return items / statistics.median(samples)


def main() -> None:
    rt = agentcell.Runtime(":memory:")
    agentcell.set_runtime(rt)
    axes = {a.name: (i % 10) / 10 for i, a in enumerate(agentcell.CANONICAL_AXES)}
    snapshots = [
        agentcell.StateSnapshot.builder().user_id(f"user-{i}").axes(axes).build() for i in range(1000)
    ]
    translator = agentcell.RuleTranslator()

    base = Baseline()
    translate = base.func("attune", "translate")
    wit_snapshots = [
        Fields(
            user_id=s.user_id,
            updated_at_unix_ms=s.updated_at_unix_ms,
            source="self-report",
            confidence=1.0,
            axes=[Fields(name=n, value=v) for n, v in s.axes.items()],
        )
        for s in snapshots
    ]

    n_single = 200
    ours_single = per_second(
        lambda: [translator.to_prompt_context(s) for s in snapshots[:n_single]], n_single
    )
    ours_batch = per_second(lambda: translator.to_prompt_contexts(snapshots), len(snapshots))
    base_single = per_second(lambda: [translate(w, None) for w in wit_snapshots[:n_single]], n_single)

    print("attune in-process: 23-axis snapshots translated per second (median of 7)")
    print(f"{'benchmark':34} {'agentcell':>14} {'wasmtime-py':>14} {'ratio':>9}")
    rows = (("translate, one call each", ours_single), ("translate, batches of 1000", ours_batch))
    for label, ours in rows:
        print(f"{label:34} {ours:>12,.0f}/s {base_single:>12,.0f}/s {ours / base_single:>8.1f}x")
    inference(base)


WORDS = [
    "I",
    "am",
    "worried",
    "that",
    "the",
    "report",
    "will",
    "not",
    "be",
    "ready",
    "by",
    "the",
    "deadline",
    "and",
    "I",
    "think",
    "we",
    "might",
    "need",
    "more",
    "time",
    "please",
    "help",
    "me",
    "understand",
    "what",
    "to",
    "do",
    "next",
    "because",
    "everything",
    "seems",
    "urgent",
    "now",
    "the",
    "team",
    "has",
    "been",
    "working",
    "hard",
    "on",
    "the",
    "analysis",
    "but",
    "the",
    "numbers",
    "are",
    "still",
    "not",
    "clear",
]
NATIVE = ROOT / "target" / "release" / "examples" / "infer_native"


def message(rng: random.Random, words: int = 200) -> str:
    """A 200-word message: sentences of 8-20 words from a fixed vocabulary."""
    out: list[str] = []
    while len(out) < words:
        sentence = [rng.choice(WORDS) for _ in range(rng.randint(8, 20))]
        sentence[0] = sentence[0].capitalize()
        out.extend([*sentence[:-1], sentence[-1] + rng.choice(".!?")])
    return " ".join(out[:words])


def inference(base: Baseline) -> None:
    rng = random.Random(4)
    texts = [message(rng) for _ in range(1000)]
    engine = agentcell.InferenceEngine()
    infer = base.func("attune", "infer")
    n_single = 300
    ours_single = per_second(lambda: [engine.infer(t) for t in texts[:n_single]], n_single)
    ours_batch = per_second(lambda: engine.infer_batch(texts), len(texts))
    base_single = per_second(lambda: [infer(t, None) for t in texts[:n_single]], n_single)
    native = None
    if NATIVE.exists():
        out = subprocess.run([str(NATIVE)], input=texts[0], capture_output=True, text=True, check=True)
        native = float(out.stdout.strip())
    print()
    print("attune inference: 200-word messages per second (median of 7); target >= 20,000/s batched")
    print(f"{'benchmark':34} {'agentcell':>14} {'wasmtime-py':>14} {'ratio':>9}")
    rows = (("infer, one call each", ours_single), ("infer, batches of 1000", ours_batch))
    for label, ours in rows:
        print(f"{label:34} {ours:>12,.0f}/s {base_single:>12,.0f}/s {ours / base_single:>8.1f}x")
    if native is not None:
        ratio = ours_batch / native
        print(f"{'same code built natively':34} {native:>12,.0f}/s   batched in the component: {ratio:.2f}x")
    else:
        print("native figure: build it with `cargo build --release -p agentcell-host --example infer_native`")


if __name__ == "__main__":
    main()
