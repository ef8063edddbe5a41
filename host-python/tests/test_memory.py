"""agentcell.memory.HTMCore: the seed 004 examples, validation, persistence (across
processes, through SIGKILL), recovery after a trap, and the approximate index."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import agentcell
from agentcell.memory import HTMCore, HTMError, MemoryError, ValidationError

DIM = 768


def unit(rng: np.random.Generator, n: int | None = None, dim: int = DIM) -> np.ndarray:
    v = rng.standard_normal((n or 1, dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v if n else v[0]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.fixture
def htm(tmp_path: Path) -> HTMCore:
    return HTMCore(tmp_path / "htm", shard_count=8)


def test_seed_example_store_get_search(htm: HTMCore, rng: np.random.Generator) -> None:
    embedding = unit(rng)
    metadata = {
        "language": "python",
        "file_type": "source",
        "size_bytes": 2048,
        "line_count": 75,
        "dependencies": ["numpy", "torch"],
    }
    htm.store_embedding("src/model.py", embedding, metadata)
    result = htm.get_embedding("src/model.py")
    assert result is not None
    assert result["metadata"]["language"] == "python"
    assert result["metadata"] == metadata
    np.testing.assert_array_equal(result["embedding"], embedding)
    assert result["embedding"].dtype == np.float32
    assert htm.get_embedding("missing.py") is None
    similar = htm.search_similar(embedding + 0.01 * unit(rng), limit=5, min_similarity=0.7)
    assert [path for path, _, _ in similar] == ["src/model.py"]
    _, similarity, data = similar[0]
    assert 0.99 < similarity <= 1.0 and data["line_count"] == 75
    assert htm.search_similar(unit(rng), limit=5, min_similarity=0.7) == []


def test_search_matches_numpy_brute_force(htm: HTMCore, rng: np.random.Generator) -> None:
    data = rng.standard_normal((3000, DIM)).astype(np.float32)
    keys = [f"k{i}" for i in range(3000)]
    assert htm.store_embeddings(keys, data, [{"i": i} for i in range(3000)]) == 3000
    normed = data / np.linalg.norm(data, axis=1, keepdims=True)
    for q in rng.standard_normal((5, DIM)).astype(np.float32):
        scores = normed @ (q / np.linalg.norm(q))
        want = [keys[i] for i in np.argsort(-scores)[:10]]
        got = htm.search_similar(q, limit=10, min_similarity=-1.0)
        assert [k for k, _, _ in got] == want
        assert got[0][1] == pytest.approx(float(scores.max()), abs=1e-5)
        assert got[3][2] == {"i": int(keys.index(got[3][0]))}


def test_metadata_filter_and_ties(htm: HTMCore) -> None:
    v = np.ones(DIM, dtype=np.float32)
    htm.store_embeddings(
        ["b", "a", "c"], np.stack([v, v, v]), [{"lang": "py"}, {"lang": "py"}, {"lang": "rs"}]
    )
    hits = htm.search_similar(v, limit=3, min_similarity=0.0)
    assert [k for k, _, _ in hits] == ["a", "b", "c"]  # equal scores: by key
    assert [k for k, _, _ in htm.search_similar(v, filter={"lang": "rs"})] == ["c"]


def test_accepts_float64_lists_and_2d_rows(htm: HTMCore, rng: np.random.Generator) -> None:
    v64 = unit(rng).astype(np.float64)
    htm.store_embedding("f64", v64, {})
    htm.store_embedding("list", [float(x) for x in v64], {})
    htm.store_embedding("row", v64.reshape(1, -1), {})
    for key in ("f64", "list", "row"):
        got = htm.get_embedding(key)
        assert got is not None
        np.testing.assert_allclose(got["embedding"], v64, rtol=1e-6)
    assert len(htm) == 3 and "row" in htm and sorted(htm.keys()) == ["f64", "list", "row"]


@pytest.mark.parametrize(
    ("key", "vector", "metadata", "field"),
    [
        ("k", np.ones(10), {}, "embeddings"),
        ("k", np.full(DIM, np.nan), {}, "embeddings[0]"),
        ("k", np.full(DIM, np.inf), {}, "embeddings[0]"),
        ("k", np.zeros(DIM), {}, "embeddings[0]"),
        ("", np.ones(DIM), {}, "entries[0].key"),
        ("k", np.ones(DIM), [1, 2], "entries[0].metadata"),
        ("k", np.ones(DIM), {"x": object()}, "entries[0]"),
        ("k", np.ones((2, 2, DIM)), {}, "embedding"),
        ("k", ["a"] * DIM, {}, "embedding"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    htm: HTMCore, key: str, vector: object, metadata: object, field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        htm.store_embedding(key, vector, metadata)  # type: ignore[arg-type]
    assert info.value.field == field
    assert isinstance(info.value, ValueError) and isinstance(info.value, agentcell.InvalidArgumentError)
    assert len(htm) == 0


def test_a_large_batch_with_one_bad_row_stores_nothing(htm: HTMCore, rng: np.random.Generator) -> None:
    data = rng.standard_normal((9000, DIM)).astype(np.float32)  # three calls into the core
    data[8500, 3] = np.nan
    with pytest.raises(ValidationError, match=r"embeddings\[8500\]"):
        htm.store_embeddings([f"k{i}" for i in range(9000)], data)
    assert len(htm) == 0
    with pytest.raises(ValidationError):
        htm.store_embeddings(["a", "b"], data[:3])
    with pytest.raises(ValidationError, match="twice"):
        htm.store_embeddings(["a", "a"], data[:2])
    assert len(htm) == 0


def test_reopen_restores_every_entry_and_rejects_other_dimension(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    data = unit(rng, 500)
    with HTMCore(tmp_path / "h", shard_count=4) as first:
        first.store_embeddings([f"k{i}" for i in range(500)], data, [{"i": i} for i in range(500)])
        first.delete_embeddings(["k0", "k1"])
        first.store_embedding("k2", data[3], {"replaced": True})
    again = HTMCore(tmp_path / "h", shard_count=4)
    assert len(again) == 498 and "k0" not in again
    k2 = again.get_embedding("k2")
    assert k2 is not None and k2["metadata"] == {"replaced": True}
    np.testing.assert_array_equal(k2["embedding"], data[3])
    with pytest.raises(ValidationError) as info:
        HTMCore(tmp_path / "h", shard_count=4, dimension=384)
    assert info.value.field == "dimension"
    report = again.garbage_collect(aggressive=True)
    # Compact: per shard of each partition, full segments of 48 rows (768-d rows, ~192 KiB
    # of base64) and one partial.
    assert report["segments_after"] <= 4 * again.partitions + 498 // 48 < report["segments_before"]
    assert len(HTMCore(tmp_path / "h", shard_count=4)) == 498


def test_store_file_is_made_for_segments_of_a_few_hundred_kib(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    import sqlite3

    with HTMCore(tmp_path / "h", shard_count=2) as htm:
        htm.store_embeddings([f"k{i}" for i in range(1000)], unit(rng, 1000))
        assert htm.runtime.storage.journal == "truncate"
    # One SQLite file per partition.
    files = sorted((tmp_path / "h").glob("*.sqlite3"))
    assert [f.name for f in files] == ["htm.part1.sqlite3", "htm.sqlite3"]
    sizes = []
    for file in files:
        db = sqlite3.connect(file)
        assert db.execute("PRAGMA page_size").fetchone() == (65536,)
        # Segment values are TEXT (base64 after a JSON header line), readable by any host.
        kinds = {t for (t,) in db.execute("SELECT typeof(value) FROM kv WHERE key LIKE 'seg/%'")}
        assert kinds == {"text"}
        sizes += [n for (n,) in db.execute("SELECT length(value) FROM kv WHERE key LIKE 'seg/%'")]
    # A 3 MB batch is cut into segments small enough to cross the boundary fast (WIT `put`).
    assert len(sizes) >= 1000 // 48 and max(sizes) <= 256 * 1024


def test_sigkill_mid_batch_loses_no_acknowledged_batch(tmp_path: Path) -> None:
    script = (
        "import sys, numpy as np\n"
        "from agentcell.memory import HTMCore\n"
        "htm = HTMCore(sys.argv[1], shard_count=8, dimension=64)\n"
        "rng = np.random.default_rng(1)\n"
        "for b in range(100000):\n"
        "    htm.store_embeddings([f'b{b}-{i}' for i in range(50)], rng.standard_normal((50, 64)))\n"
        "    print(b, flush=True)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "h")], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    last = -1
    deadline = time.monotonic() + 60
    while last < 40 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        last = int(line)
    child.kill()  # SIGKILL, most likely in the middle of a batch
    child.wait()
    assert last >= 40
    htm = HTMCore(tmp_path / "h", shard_count=8, dimension=64)
    keys = set(htm.keys())
    for b in range(last + 1):  # every acknowledged batch is whole
        assert all(f"b{b}-{i}" in keys for i in range(50)), b
    batches = {k.split("-")[0] for k in keys}
    for b in batches:  # and no batch is half there
        assert all(f"{b}-{i}" in keys for i in range(50)), b


@pytest.mark.parametrize("partition", [0, 1])
def test_trap_then_store_reopens_with_data_intact(
    htm: HTMCore, rng: np.random.Generator, partition: int
) -> None:
    vectors = unit(rng, 20)
    htm.store_embeddings([f"kept-{i}" for i in range(20)], vectors, [{"n": i} for i in range(20)])
    with pytest.raises(agentcell.ComponentTrap):
        htm._parts[partition].runtime.call("testing", "trap", "on purpose")
    for i, v in enumerate(vectors):
        assert htm.search_similar(v, limit=1)[0][:2] == (f"kept-{i}", pytest.approx(1.0, abs=1e-5))
    htm.store_embedding("after", vectors[0], {})
    assert len(htm) == 21


def test_unusable_storage_path_is_an_htm_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(HTMError) as info:
        HTMCore(blocker / "htm")
    assert info.value.field == "storage_path"
    assert issubclass(MemoryError, HTMError)


def test_async_variants_and_threads(htm: HTMCore, rng: np.random.Generator) -> None:
    async def main() -> list[tuple[str, float, dict[str, object]]]:
        await asyncio.gather(
            *(htm.store_embedding_async(f"file_{i}.py", unit(rng), {"file_id": i}) for i in range(10))
        )
        assert (await htm.get_embedding_async("file_3.py")) is not None
        return await htm.search_similar_async(unit(rng), limit=5, min_similarity=-1.0)

    assert len(asyncio.run(main())) == 5

    def worker(i: int) -> None:
        htm.store_embedding(f"thread_{i}", unit(np.random.default_rng(i)), {})

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(worker, range(40)))
    assert len(htm) == 50


def test_resonance_formula_and_query(htm: HTMCore, rng: np.random.Generator) -> None:
    a, b = unit(rng), unit(rng)
    c = float(np.dot(a, b))
    expected = min(1.0, max(0.0, c * (1 + 0.1 * np.sin(np.pi * c))))
    assert htm.calculate_resonance(a, b) == pytest.approx(expected, abs=1e-6)
    assert htm.calculate_resonance(a, a) == pytest.approx(1.0, abs=1e-6)
    htm.store_embeddings(["near", "far"], np.stack([a + 0.05 * b, -a]), [{}, {}])
    hits = htm.query_by_resonance(min_resonance=0.8, max_results=10, query=a)
    assert [k for k, _, _ in hits] == ["near"]
    assert [k for k, _, _ in htm.query_by_resonance(0.0)]  # against the mean direction
    with pytest.raises(ValidationError):
        htm.query_by_resonance(1.5)


def test_ivf_index_recall_against_exact(tmp_path: Path, rng: np.random.Generator) -> None:
    centres = unit(rng, 50, 64)
    data = np.repeat(centres, 80, axis=0) + 0.05 * rng.standard_normal((4000, 64)).astype(np.float32)
    htm = HTMCore(tmp_path / "ivf", dimension=64, index="ivf")
    htm.store_embeddings([f"k{i}" for i in range(4000)], data)
    htm.build_index()
    stats = htm.get_memory_stats()
    # round(sqrt(n)) lists in each partition of n rows.
    sizes = Counter(htm.partition_of(f"k{i}") for i in range(4000))
    assert stats["index_trained"] and stats["cache_entries"] == 4000
    assert stats["index_lists"] == sum(round(n**0.5) for n in sizes.values())
    found = 0
    for q in data[rng.choice(4000, 30, replace=False)] + 0.02 * rng.standard_normal((30, 64)).astype(
        np.float32
    ):
        exact = {k for k, _, _ in htm.search_similar(q, 10, -1.0, exact=True)}
        approx = {k for k, _, _ in htm.search_similar(q, 10, -1.0)}
        found += len(exact & approx)
    assert found / 300 >= 0.95
    htm.clear_cache()
    assert htm.get_memory_stats()["index_trained"] is False


def test_stats_profiling_and_benchmark(htm: HTMCore, rng: np.random.Generator) -> None:
    htm.enable_profiling(True)
    htm.store_embeddings([f"k{i}" for i in range(100)], unit(rng, 100))
    htm.search_similar(unit(rng))
    stats = htm.get_memory_stats()
    assert stats["entries"] == 100 and stats["dimension"] == DIM
    assert stats["raw_vector_bytes"] == 100 * DIM * 4 <= stats["vector_bytes"] <= stats["used_bytes"]
    prof = htm.get_profiling_data()
    # Core counters count per partition: one batch over both, one search of both.
    assert prof["store"]["count"] == 2 and prof["search"]["count"] == 2
    assert prof["call:search"]["avg_duration_ms"] >= prof["search"]["avg_duration_ms"]
    bench = htm.benchmark_operations(50)
    assert set(bench) == {"store_ops_per_sec", "retrieve_ops_per_sec", "search_ops_per_sec"}
    assert all(v > 0 for v in bench.values())
    assert len(htm) == 100  # the scratch store is gone
    htm.close()
    with pytest.raises(HTMError, match="closed"):
        len(htm)


def test_each_opener_owns_its_store_in_a_shared_runtime() -> None:
    """Two `HTMCore`s of one store in one runtime: each holds a `memory.store` resource
    of its own over the shared copy, so one closing leaves the other open."""
    rt = agentcell.Runtime(":memory:")
    a = HTMCore(dimension=DIM, name="shared", runtime=rt)
    b = HTMCore(dimension=DIM, name="shared", runtime=rt)
    a.store_embedding("k", np.ones(DIM, dtype=np.float32), {"n": 1})
    assert b.get_embedding("k") is not None, "both see the shared copy"
    a.close()
    with pytest.raises(HTMError, match="closed"):
        a.get_memory_stats()
    assert len(b) == 1 and b.search_similar(np.ones(DIM), limit=1)[0][0] == "k"
    b.destroy()
    c = HTMCore(dimension=DIM, name="shared", runtime=rt)
    d = HTMCore(dimension=DIM, name="shared", runtime=rt)
    assert len(c) == 0
    c.destroy()
    with pytest.raises(HTMError, match="destroyed"):
        len(d)
    rt.close()
