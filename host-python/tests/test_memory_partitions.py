"""A store split over several component instances (`HTMCore(partitions=N)`): it answers
as one instance would, keeps its layout, and checks a whole batch before writing any."""

from __future__ import annotations

import threading
import zlib
from pathlib import Path

import numpy as np
import pytest

from agentcell.memory import HTMCore, ValidationError
from agentcell.memory._htm import LAYOUT_NAMESPACE

DIM = 32


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(11)


def pair(tmp_path: Path, rng: np.random.Generator, n: int = 3000) -> tuple[HTMCore, HTMCore, np.ndarray]:
    """The same entries in one instance and in three; rows 0 and 1 are equal (a tie)."""
    data = unit(rng, n)
    data[1] = data[0]
    keys = [f"doc-{i}" for i in range(n)]
    metas = [{"i": i, "even": i % 2 == 0} for i in range(n)]
    one = HTMCore(tmp_path / "one", dimension=DIM, partitions=1)
    three = HTMCore(tmp_path / "three", dimension=DIM, partitions=3)
    assert one.store_embeddings(keys, data, metas) == three.store_embeddings(keys, data, metas) == n
    return one, three, data


def test_partitioned_store_answers_exactly_as_one_instance(tmp_path: Path, rng: np.random.Generator) -> None:
    one, three, data = pair(tmp_path, rng)
    assert three.partitions == 3 and len(three) == len(one) == 3000
    assert sorted(three.keys()) == sorted(one.keys())
    assert {three.partition_of(k) for k in three} == {0, 1, 2}
    # The core's rule (WIT `memory.partitions-of`) is zlib's CRC-32 modulo the count.
    assert all(three.partition_of(k) == zlib.crc32(k.encode()) % 3 for k in list(three)[:100])
    queries = [data[0], *unit(rng, 10)]
    for q in queries:
        for min_similarity, filter in ((-1.0, None), (0.0, {"even": True}), (0.3, None)):
            expected = one.search_similar(q, 25, min_similarity, filter=filter)
            assert three.search_similar(q, 25, min_similarity, filter=filter) == expected
    # The tie (rows 0 and 1 equal) comes back ordered by key, across partitions.
    top = three.search_similar(data[0], 2, 0.0)
    assert [k for k, _, _ in top] == ["doc-0", "doc-1"]
    assert three.partition_of("doc-0") != three.partition_of("doc-1")
    # Routed reads and writes.
    entry = three.get_embedding("doc-7")
    assert entry is not None and entry["metadata"] == {"i": 7, "even": False}
    np.testing.assert_array_equal(entry["embedding"], data[7])
    assert "doc-7" in three and "doc-x" not in three
    assert three.delete_embeddings(["doc-7", "doc-8", "doc-9", "nope"]) == 3
    assert len(three) == 2997 and three.get_embedding("doc-8") is None


def test_mean_direction_is_of_the_whole_store(tmp_path: Path, rng: np.random.Generator) -> None:
    one, three, _ = pair(tmp_path, rng, 500)
    expected = one.query_by_resonance(0.0, 50)
    got = three.query_by_resonance(0.0, 50)
    assert [k for k, _, _ in got] == [k for k, _, _ in expected]
    assert [s for _, s, _ in got] == pytest.approx([s for _, s, _ in expected], abs=1e-5)
    assert len(three.query_by_resonance(0.0)) == 500
    empty = HTMCore(":memory:", dimension=DIM, partitions=2)
    assert empty.query_by_resonance(0.0) == []


def test_stats_add_up_over_partitions(tmp_path: Path, rng: np.random.Generator) -> None:
    one, three, _ = pair(tmp_path, rng, 1000)
    a, b = one.get_memory_stats(), three.get_memory_stats()
    assert (a["partitions"], b["partitions"]) == (1, 3)
    for field in ("entries", "raw_vector_bytes"):
        assert a[field] == b[field], field
    assert b["vector_bytes"] >= b["raw_vector_bytes"]
    assert b["dimension"] == DIM and b["index_kind"] == "flat"
    assert repr(three).endswith("partitions=3)")


def test_layout_is_kept_and_checked_on_reopen(tmp_path: Path, rng: np.random.Generator) -> None:
    with HTMCore(tmp_path / "s", dimension=DIM, partitions=3) as htm:
        htm.store_embeddings([f"k{i}" for i in range(300)], unit(rng, 300))
    again = HTMCore(tmp_path / "s", dimension=DIM)
    assert again.partitions == 3 and len(again) == 300
    again.close()
    with pytest.raises(ValidationError) as info:
        HTMCore(tmp_path / "s", dimension=DIM, partitions=2)
    assert info.value.field == "partitions" and "has 3" in str(info.value)
    for bad in (0, 17, True):
        with pytest.raises(ValidationError) as info:
            HTMCore(":memory:", dimension=DIM, partitions=bad)
        assert info.value.field == "partitions"


def test_a_store_without_a_layout_record_is_one_partition(tmp_path: Path, rng: np.random.Generator) -> None:
    """Stores written before partitions existed: entries in the one file, no record."""
    with HTMCore(tmp_path / "old", dimension=DIM, partitions=1) as htm:
        htm.store_embeddings([f"k{i}" for i in range(100)], unit(rng, 100))
        htm.runtime.storage.delete(LAYOUT_NAMESPACE, "htm")
    again = HTMCore(tmp_path / "old", dimension=DIM)
    assert again.partitions == 1 and len(again) == 100 and again.get_embedding("k42") is not None


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"metadata": [1]}, "entries[2999].metadata"),
        ({"key": "doc-0"}, "entries[2999].key"),
        ({"diff_ops": [{"op": "move"}]}, "entries[2999].diff_ops[0].op"),
        ({"embedding": np.nan}, "embeddings[2999]"),
    ],
)
def test_bad_last_entry_fails_the_whole_batch(
    tmp_path: Path, rng: np.random.Generator, bad: dict[str, object], field: str
) -> None:
    htm = HTMCore(tmp_path / "b", dimension=DIM, partitions=2)
    n = 3000
    keys = [f"doc-{i}" for i in range(n)]
    data = unit(rng, n)
    metas: list[object] = [{"i": i} for i in range(n)]
    diffs: list[object] = [None] * n
    if "key" in bad:
        keys[-1] = str(bad["key"])
    if "metadata" in bad:
        metas[-1] = bad["metadata"]
    if "diff_ops" in bad:
        diffs[-1] = bad["diff_ops"]
    if "embedding" in bad:
        data[-1, 3] = np.nan
    with pytest.raises(ValidationError) as info:
        htm.store_embeddings(keys, data, metas, diffs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert len(htm) == 0


def test_threads_share_a_partitioned_store(tmp_path: Path, rng: np.random.Generator) -> None:
    htm = HTMCore(tmp_path / "t", dimension=DIM, partitions=2)
    data = unit(rng, 400)
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            for j in range(0, 100, 10):
                rows = range(t * 100 + j, t * 100 + j + 10)
                htm.store_embeddings([f"k{i}" for i in rows], data[rows.start : rows.stop])
                for i in rows:
                    assert htm.search_similar(data[i], 1, 0.0)[0][0] == f"k{i}"
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and len(htm) == 400
