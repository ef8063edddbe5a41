"""A store written by the Python host opens in the Rust host and answers the same
search: the partition rules are the component's (WIT `memory.partitions-of`, `layout`,
`merge-hits`), not a host's."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from agentcell.memory import HTMCore

from .conftest import AGENTCELL

DIM = 8


def rust_search(directory: Path, query: np.ndarray, limit: int) -> list[list[object]]:
    out = subprocess.run(
        [
            str(AGENTCELL),
            "memory-search",
            "--dir",
            str(directory),
            "--dimension",
            str(DIM),
            "--query",
            ",".join(repr(float(v)) for v in query),
            "--limit",
            str(limit),
            "--min-similarity",
            "-1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    hits: list[list[object]] = json.loads(out.stdout)
    return hits


@pytest.mark.parametrize("partitions", [1, 3])
def test_rust_opens_a_python_store_and_answers_the_same_search(tmp_path: Path, partitions: int) -> None:
    rng = np.random.default_rng(partitions)
    data = rng.standard_normal((600, DIM)).astype(np.float32)
    data[1] = data[0]  # a tie, ordered by key across partitions
    keys = [f"doc-{i}" for i in range(600)]
    with HTMCore(tmp_path, dimension=DIM, partitions=partitions) as htm:
        htm.store_embeddings(keys, data, [{"i": i} for i in range(600)])
        assert htm.delete_embeddings(["doc-5", "doc-6"]) == 2
        queries = [data[0], *rng.standard_normal((3, DIM)).astype(np.float32)]
        expected = [htm.search_similar(q, limit=20, min_similarity=-1.0) for q in queries]
    for q, want in zip(queries, expected, strict=True):
        got = rust_search(tmp_path, q, 20)
        assert [(k, m) for k, _, m in got] == [(k, m) for k, _, m in want]
        assert [s for _, s, _ in got] == pytest.approx([s for _, s, _ in want], abs=1e-6)
    assert [k for k, _, _ in rust_search(tmp_path, data[0], 2)] == ["doc-0", "doc-1"]
