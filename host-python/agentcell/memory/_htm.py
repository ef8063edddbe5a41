"""`HTMCore`: embedding memory with similarity search (seed 004).

The store lives in the component: embeddings in wasm linear memory, searched with wasm
SIMD, persisted through the host storage (a SQLite file under `storage_path`) in
sharded append-only segments. Python converts arrays and maps errors; everything else
happens once, in the component, for every host.

Definitions (checkable by hand):

- similarity: cosine, ``dot(a, b) / (|a| |b|)``; results best first, ties by key.
- resonance: ``clamp(c * (1 + 0.1 * sin(pi * c)), 0, 1)`` with ``c`` the cosine
  (upstream's intended formula); `query_by_resonance` measures it against the given
  query, or, without one, against the store's mean direction (the normalised sum of
  the normalised embeddings).
- ``index="ivf"``: an inverted file (spherical k-means lists, ``round(sqrt(n)/2)`` of
  them by default); approximate searches scan the ``probes`` nearest lists (a twentieth,
  at least 8). Trained on the first approximate search, retrained when a tenth of the
  rows were added since; ``exact=True`` always scans everything.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from .._alloc import keep_heap_warm
from .._wasm import Runtime
from ..errors import AgentcellError, InvalidArgumentError, StorageError
from ..storage import SQLiteStorage
from ._vectors import ArrayLike, as_matrix, as_vector, from_hex, to_hex, to_hex_pieces
from .exceptions import HTMError, MemoryStorageError, ValidationError

__all__ = ["DEFAULT_DIMENSION", "HTMCore", "IndexKind", "SearchHit"]

DEFAULT_DIMENSION = 768
#: Rows per `put` call: bounds the transient memory of a large batch in the component.
CHUNK_ROWS = 4096
DB_FILE = "htm.sqlite3"
JOURNAL = "truncate"

IndexKind = Literal["flat", "ivf"]
#: One search result: key, similarity (or resonance), metadata.
SearchHit = tuple[str, float, dict[str, Any]]


def _memory_error(e: AgentcellError) -> AgentcellError:
    """The memory-specific exception for a component error."""
    if isinstance(e, InvalidArgumentError):
        return ValidationError(e.message, field=e.field)
    if isinstance(e, StorageError):
        return MemoryStorageError(e.message, field=e.field)
    return e


def _hits(text: str) -> list[SearchHit]:
    return [(k, float(s), m) for k, s, m in json.loads(text)]


class HTMCore:
    """A persistent store of embeddings with metadata, searched by cosine similarity.

    >>> htm = HTMCore("./data/htm", shard_count=8)          # doctest: +SKIP
    >>> htm.store_embedding("src/model.py", vector, {"language": "python"})  # doctest: +SKIP
    >>> htm.search_similar(query, limit=5, min_similarity=0.7)  # doctest: +SKIP
    [('src/model.py', 0.93, {'language': 'python'})]

    `storage_path` is a directory (created if needed) holding the SQLite file, or
    ``":memory:"``. Safe to share between threads: calls are serialised on the store's
    component instance. One process may hold one `HTMCore` per store; other processes
    see its writes when they open the store again.
    """

    def __init__(
        self,
        storage_path: str | Path = ":memory:",
        shard_count: int = 4,
        *,
        dimension: int = DEFAULT_DIMENSION,
        index: IndexKind = "flat",
        name: str = "htm",
        runtime: Runtime | None = None,
    ) -> None:
        for field, value in (("shard_count", shard_count), ("dimension", dimension)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValidationError(f"{field}: must be an int, got {value!r}", field=field)
        if index not in ("flat", "ivf"):
            raise ValidationError(f"index: must be 'flat' or 'ivf', got {index!r}", field="index")
        self.name = name
        self.dimension = dimension
        self.shard_count = shard_count
        self.index: IndexKind = index
        # Embeddings move in 256 KiB pieces; keep glibc from returning and re-faulting
        # them on every call (see `agentcell._alloc`; AGENTCELL_TUNE_ALLOCATOR=0: off).
        keep_heap_warm()
        if runtime is None:
            runtime = Runtime(self._storage_at(storage_path))
        self._runtime = runtime
        self._handle = 0
        self._generation = -1
        self._profiling = False
        self._host_times: dict[str, list[float]] = {}
        self._times_lock = threading.Lock()
        with self._runtime.lock:
            self._open()

    @staticmethod
    def _storage_at(storage_path: str | Path) -> SQLiteStorage:
        if str(storage_path) == ":memory:":
            return SQLiteStorage(":memory:")
        directory = Path(storage_path)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise HTMError(
                f"cannot create the store directory {str(directory)!r}: {e}", field="storage_path"
            ) from e
        try:
            # 64 KiB pages: segments are megabytes each; 16x fewer pages to write and
            # chain than SQLite's default 4 KiB (insert and reopen ~2x faster, measured).
            return SQLiteStorage(directory / DB_FILE, page_size=65536, journal=JOURNAL)
        except StorageError as e:
            raise HTMError(str(e), field="storage_path") from e

    @property
    def runtime(self) -> Runtime:
        """The component runtime this store lives in: other interfaces of the component
        (code analysis, principles) can be called on it, serialised with the store's own
        calls by the runtime's lock."""
        return self._runtime

    def _open(self) -> None:
        options = {"dimension": self.dimension, "shard-count": self.shard_count, "index": self.index}
        try:
            self._handle = self._runtime.call_ok("memory", "open", self.name, options)
        except AgentcellError as e:
            raise _memory_error(e) from e
        self._generation = self._runtime.instantiations
        if self._profiling:
            self._runtime.call_ok("memory", "set-profiling", self._handle, True)

    def _call(self, name: str, *args: Any) -> Any:
        """Calls `memory.<name>(handle, *args)`. After a trap the runtime has a new
        instance; the store is reopened from storage first (nothing acknowledged is lost)."""
        started = time.perf_counter() if self._profiling else 0.0
        with self._runtime.lock:
            if self._generation != self._runtime.instantiations:
                self._open()
            if not self._handle:
                raise HTMError(f"the store {self.name!r} is closed")
            try:
                out = self._runtime.call_ok("memory", name, self._handle, *args)
            except AgentcellError as e:
                raise _memory_error(e) from e
        if self._profiling:
            with self._times_lock:
                self._host_times.setdefault(name, []).append(time.perf_counter() - started)
        return out

    # --- writing -------------------------------------------------------------------

    def store_embedding(
        self,
        key: str,
        embedding: ArrayLike,
        metadata: Mapping[str, Any] | None = None,
        diff_ops: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Stores (or replaces) one entry. Durable when this returns."""
        self.store_embeddings([key], as_vector(embedding, "embedding"), [metadata], [diff_ops])

    def store_embeddings(
        self,
        keys: Sequence[str],
        embeddings: ArrayLike,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        diff_ops: Sequence[Sequence[Mapping[str, Any]] | None] | None = None,
    ) -> int:
        """Stores a batch: `embeddings` is a 2-D array with one row per key. Every row is
        checked before anything is written; returns the number stored."""
        if isinstance(keys, str):
            raise ValidationError("keys: must be a sequence of keys, not one string", field="keys")
        matrix = as_matrix(embeddings, "embeddings")
        n = len(keys)
        if matrix.shape[0] != n:
            raise ValidationError(f"embeddings: {matrix.shape[0]} rows for {n} keys", field="embeddings")
        metas = list(metadatas) if metadatas is not None else [None] * n
        diffs = list(diff_ops) if diff_ops is not None else [None] * n
        for field, seq in (("metadatas", metas), ("diff_ops", diffs)):
            if len(seq) != n:
                raise ValidationError(f"{field}: {len(seq)} items for {n} keys", field=field)
        if n > CHUNK_ROWS:
            self._precheck(keys, matrix)
        starts = range(0, n, CHUNK_ROWS)
        entries_jsons = [
            self._entries_json(
                [
                    {"key": keys[i], "metadata": metas[i], "diff_ops": diffs[i]}
                    for i in range(a, min(a + CHUNK_ROWS, n))
                ],
                a,
            )
            for a in starts
        ]

        stored = 0
        for a, entries_json in zip(starts, entries_jsons, strict=True):
            stored += int(self._call("put", entries_json, to_hex_pieces(matrix[a : a + CHUNK_ROWS])))
        return stored

    def _precheck(self, keys: Sequence[str], matrix: npt.NDArray[np.float32]) -> None:
        """For a batch sent in several calls: the checks that could fail a later call,
        made before the first one (each call is still checked in full by the core)."""
        if matrix.shape[1] != self.dimension:
            raise ValidationError(
                f"embeddings: rows have dimension {matrix.shape[1]}, the store {self.dimension}",
                field="embeddings",
            )
        # One pass, no full-size temporary: a row with NaN/inf has a non-finite squared
        # norm, a zero row a zero one. Rows flagged so (also huge or tiny finite rows,
        # whose squares overflow or underflow) are then checked exactly.
        squares = np.einsum("ij,ij->i", matrix, matrix)
        for row in np.flatnonzero(~np.isfinite(squares) | (squares == 0)):
            values = matrix[row]
            if not np.isfinite(values).all():
                raise ValidationError(f"embeddings[{row}]: holds NaN or infinity", field=f"embeddings[{row}]")
            if not values.any():
                raise ValidationError(f"embeddings[{row}]: is the zero vector", field=f"embeddings[{row}]")
        seen: set[str] = set()
        for i, k in enumerate(keys):
            if not isinstance(k, str) or not k:
                raise ValidationError(
                    f"entries[{i}].key: must be a non-empty string", field=f"entries[{i}].key"
                )
            if k in seen:
                raise ValidationError(f"entries[{i}].key: {k!r} appears twice", field=f"entries[{i}].key")
            seen.add(k)

    @staticmethod
    def _entries_json(entries: list[dict[str, Any]], offset: int) -> str:
        try:
            return json.dumps(entries, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            for i, e in enumerate(entries):
                try:
                    json.dumps(e, allow_nan=False)
                except (TypeError, ValueError) as err:
                    field = f"entries[{offset + i}]"
                    raise ValidationError(
                        f"{field}: metadata must be JSON-serialisable: {err}", field=field
                    ) from None
            raise

    def delete_embedding(self, key: str) -> bool:
        """Removes `key`; True when it existed."""
        return self.delete_embeddings([key]) == 1

    def delete_embeddings(self, keys: Sequence[str]) -> int:
        """Removes the keys (one durable write); returns how many existed."""
        return int(self._call("delete", list(keys)))

    # --- reading -------------------------------------------------------------------

    def get_embedding(self, key: str) -> dict[str, Any] | None:
        """``{"key", "embedding" (float32 array), "metadata", "diff_ops", "stored_at_ms"}``
        or None."""
        entry = self._call("get", key)
        if entry is None:
            return None
        diff = entry["diff_ops_json"]
        return {
            "key": entry["key"],
            "embedding": from_hex(entry["embedding"]),
            "metadata": json.loads(entry["metadata_json"]),
            "diff_ops": json.loads(diff) if diff is not None else None,
            "stored_at_ms": entry["stored_at_ms"],
        }

    def search_similar(
        self,
        query_embedding: ArrayLike,
        limit: int = 10,
        min_similarity: float = 0.5,
        *,
        filter: Mapping[str, Any] | None = None,
        exact: bool | None = None,
        probes: int | None = None,
    ) -> list[SearchHit]:
        """The `limit` entries most similar to the query with similarity >=
        `min_similarity`, as ``(key, similarity, metadata)``, best first (ties by key).
        `filter` keeps entries whose metadata has these exact field values. `exact`
        defaults to the store's index: False uses the IVF index when there is one."""
        query = as_vector(query_embedding, "query_embedding")
        options = {
            "limit": limit,
            "min-similarity": float(min_similarity),
            "filter-json": json.dumps(dict(filter)) if filter is not None else None,
            "exact": self.index == "flat" if exact is None else bool(exact),
            "probes": probes,
        }
        return _hits(self._call("search", to_hex(query), options))

    def calculate_resonance(self, embedding1: ArrayLike, embedding2: ArrayLike) -> float:
        """``clamp(c * (1 + 0.1 * sin(pi * c)), 0, 1)``, c = cosine(embedding1, embedding2)."""
        a, b = as_vector(embedding1, "embedding1"), as_vector(embedding2, "embedding2")
        try:
            return float(self._runtime.call_ok("memory", "resonance", to_hex(a), to_hex(b)))
        except AgentcellError as e:
            raise _memory_error(e) from e

    def query_by_resonance(
        self, min_resonance: float, max_results: int | None = None, *, query: ArrayLike | None = None
    ) -> list[SearchHit]:
        """Entries whose resonance with `query` (default: the store's mean direction) is
        >= `min_resonance`, as ``(key, resonance, metadata)``, best first."""
        q = to_hex(as_vector(query, "query")) if query is not None else None
        return _hits(self._call("query-by-resonance", float(min_resonance), max_results, q))

    def keys(self) -> list[str]:
        """Every key, in storage order."""
        keys: list[str] = json.loads(self._call("keys-json"))
        return keys

    def __len__(self) -> int:
        return int(self._call("count"))

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._call("get", key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    # --- index, memory, profiling --------------------------------------------------

    def build_index(self, lists: int | None = None) -> None:
        """Trains the IVF index now rather than on the first approximate search."""
        self._call("build-index", lists)

    def get_memory_stats(self) -> dict[str, Any]:
        """entries, dimension, used_bytes, vector_bytes, raw_vector_bytes, index_bytes,
        metadata_bytes, cache_entries, index_kind, index_trained, segments, ..."""
        stats: dict[str, Any] = json.loads(self._call("stats-json"))
        return stats

    def garbage_collect(self, aggressive: bool = False) -> dict[str, int]:
        """Compacts the persisted segments (and, `aggressive`, frees caches and spare
        memory); returns segments_before, segments_after, bytes_reclaimed."""
        report: dict[str, int] = json.loads(self._call("garbage-collect", aggressive))
        return report

    def clear_cache(self) -> None:
        """Drops the IVF index; it is rebuilt when next needed."""
        self._call("clear-cache")

    def enable_profiling(self, enabled: bool = True) -> None:
        """Counts operations and their durations (in the core and as seen from Python)."""
        self._profiling = enabled
        self._call("set-profiling", enabled)

    def get_profiling_data(self) -> dict[str, dict[str, float]]:
        """``{operation: {count, total_ms, avg_duration_ms}}`` measured in the core, plus
        ``call:<function>`` entries measured from Python (boundary included)."""
        data: dict[str, dict[str, float]] = json.loads(self._call("profiling-json"))
        with self._times_lock:
            for name, times in self._host_times.items():
                total = sum(times) * 1000
                data[f"call:{name}"] = {
                    "count": len(times),
                    "total_ms": total,
                    "avg_duration_ms": total / len(times),
                }
        return data

    def benchmark_operations(self, num_operations: int = 1000) -> dict[str, float]:
        """Times `num_operations` stores, retrievals and searches of random vectors on a
        scratch store in the same storage (deleted afterwards): operations per second,
        boundary included."""
        scratch = HTMCore(
            dimension=self.dimension,
            shard_count=self.shard_count,
            index=self.index,
            name=f"{self.name}.benchmark",
            runtime=self._runtime,
        )
        try:
            rng = np.random.default_rng(0)
            vectors = rng.standard_normal((num_operations, self.dimension)).astype(np.float32)
            keys = [f"bench-{i}" for i in range(num_operations)]
            t0 = time.perf_counter()
            for k, v in zip(keys, vectors, strict=True):
                scratch.store_embedding(k, v, {})
            t1 = time.perf_counter()
            for k in keys:
                scratch.get_embedding(k)
            t2 = time.perf_counter()
            searches = max(1, num_operations // 10)
            for v in vectors[:searches]:
                scratch.search_similar(v, limit=10, min_similarity=-1.0)
            t3 = time.perf_counter()
        finally:
            scratch.destroy()
        return {
            "store_ops_per_sec": num_operations / (t1 - t0),
            "retrieve_ops_per_sec": num_operations / (t2 - t1),
            "search_ops_per_sec": searches / (t3 - t2),
        }

    # --- lifetime ------------------------------------------------------------------

    def close(self) -> None:
        """Releases the in-memory copy; everything acknowledged stays persisted."""
        with self._runtime.lock:
            if self._handle and self._generation == self._runtime.instantiations:
                self._runtime.call_ok("memory", "close", self._handle)
            self._handle = 0

    def destroy(self) -> None:
        """Deletes the store's persisted data and closes it."""
        self._call("destroy")
        self._handle = 0

    def __enter__(self) -> HTMCore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HTMCore(name={self.name!r}, dimension={self.dimension}, index={self.index!r})"

    # --- async twins ---------------------------------------------------------------

    async def store_embedding_async(
        self,
        key: str,
        embedding: ArrayLike,
        metadata: Mapping[str, Any] | None = None,
        diff_ops: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """`store_embedding` in a worker thread."""
        await asyncio.to_thread(self.store_embedding, key, embedding, metadata, diff_ops)

    async def store_embeddings_async(
        self,
        keys: Sequence[str],
        embeddings: ArrayLike,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> int:
        """`store_embeddings` in a worker thread."""
        return await asyncio.to_thread(self.store_embeddings, keys, embeddings, metadatas)

    async def get_embedding_async(self, key: str) -> dict[str, Any] | None:
        """`get_embedding` in a worker thread."""
        return await asyncio.to_thread(self.get_embedding, key)

    async def search_similar_async(
        self, query_embedding: ArrayLike, limit: int = 10, min_similarity: float = 0.5
    ) -> list[SearchHit]:
        """`search_similar` in a worker thread."""
        return await asyncio.to_thread(self.search_similar, query_embedding, limit, min_similarity)

    async def query_by_resonance_async(
        self, min_resonance: float, max_results: int | None = None
    ) -> list[SearchHit]:
        """`query_by_resonance` in a worker thread."""
        return await asyncio.to_thread(self.query_by_resonance, min_resonance, max_results)
