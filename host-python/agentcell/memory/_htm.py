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
- ``index="ivf"``: an inverted file (spherical k-means lists, ``round(sqrt(n))`` of
  them by default); approximate searches scan the ``probes`` nearest lists (a twentieth,
  at least 8). Trained on the first approximate search, retrained when a tenth of the
  rows were added since; ``exact=True`` always scans everything.
- ``partitions``: a store is split over this many component instances (default 2), each
  holding the entries whose key's CRC-32 falls to it, in its own SQLite file. A search
  scans every partition at once, each on its own thread (a component call runs without
  the GIL), and merges the top hits; a batch is written by all of them at once. Exact
  search answers exactly as one instance would: similarity is computed row by row and
  the merge keeps the order (best first, ties by key). The IVF index is per partition:
  ``probes`` and ``lists`` count per partition.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt

from .. import _settings
from .._alloc import keep_heap_warm
from .._twins import async_twin
from .._wasm import Runtime
from .._wit import Memory, MemorySearchOptions, MemoryStoreOptions
from ..errors import AgentcellError
from . import _args, _batch
from ._partition import HostTimes, Partition, SearchHit, hits, memory_error, storage_at
from ._vectors import ArrayLike, as_matrix, as_vector, from_hex, to_hex, to_hex_pieces
from .exceptions import ValidationError

__all__ = ["DEFAULT_DIMENSION", "HTMCore", "IndexKind", "SearchHit"]

DEFAULT_DIMENSION = 768
#: Rows per `put` call at most, and bytes of f32 per call at most: together they bound
#: the transient memory of a large batch in the component whatever the dimension (a call
#: of 4096 rows at dimension 65536 would need a gigabyte of hex at once).
CHUNK_ROWS = 4096
CHUNK_BYTES = 16 * 1024 * 1024


def chunk_rows(dimension: int) -> int:
    """Rows per `put` call for embeddings of `dimension`."""
    return max(1, min(CHUNK_ROWS, CHUNK_BYTES // (4 * dimension)))


#: Component instances a new store is split over: one per core of a 2-core machine.
DEFAULT_PARTITIONS = 2
MAX_PARTITIONS = 16
#: Where partition 0's storage records how many partitions each store has (written and
#: read by the core: WIT `memory.layout`).
LAYOUT_NAMESPACE = "agentcell.memory-layout"
#: Results a merged search or resonance query returns at most (the core's limit).
MAX_RESULTS = 10_000

T = TypeVar("T")
P = ParamSpec("P")

IndexKind = Literal["flat", "ivf"]
#: Persistence shards of a new store when none are named (an existing store keeps its own).
DEFAULT_SHARDS = 4


class HTMCore:
    """A persistent store of embeddings with metadata, searched by cosine similarity.

    >>> htm = HTMCore("./data/htm", shard_count=8)          # doctest: +SKIP
    >>> htm.store_embedding("src/model.py", vector, {"language": "python"})  # doctest: +SKIP
    >>> htm.search_similar(query, limit=5, min_similarity=0.7)  # doctest: +SKIP
    [('src/model.py', 0.93, {'language': 'python'})]

    `storage_path` is a directory (created if needed) holding the SQLite files (one per
    partition), or ``":memory:"``. `partitions` (1..=16) is fixed when the store is
    created (default 2; a store reopened keeps its own), and so is `shard_count` (default 4;
    left unnamed, an existing store's own count is used). Safe to share between threads:
    calls are serialised on each partition's component instance. One process may hold
    one `HTMCore` per store; other processes see its writes when they open it again.
    """

    def __init__(
        self,
        storage_path: str | Path = ":memory:",
        shard_count: int | None = None,
        *,
        dimension: int = DEFAULT_DIMENSION,
        index: IndexKind = "flat",
        name: str = "htm",
        partitions: int | None = None,
        runtime: Runtime | None = None,
    ) -> None:
        """`runtime`: open the store in this component runtime (and its storage) rather
        than in runtimes of its own; such a store has one partition."""
        for field, value in (
            ("shard_count", shard_count),
            ("dimension", dimension),
            ("partitions", partitions),
        ):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ValidationError(f"{field}: must be an int, got {value!r}", field=field)
        if index not in ("flat", "ivf"):
            raise ValidationError(f"index: must be 'flat' or 'ivf', got {index!r}", field="index")
        if partitions is not None and not 1 <= partitions <= MAX_PARTITIONS:
            raise ValidationError(
                f"partitions: must be 1..={MAX_PARTITIONS}, got {partitions}", field="partitions"
            )
        if runtime is not None and partitions not in (None, 1):
            raise ValidationError("partitions: a store opened in a given runtime has one", field="partitions")
        self.name = name
        self.dimension = dimension
        self.shard_count = shard_count if shard_count is not None else DEFAULT_SHARDS
        self.index: IndexKind = index
        # Embeddings move in 256 KiB pieces; keep glibc from returning and re-faulting
        # them on every call (see `agentcell._alloc`; AGENTCELL_TUNE_ALLOCATOR=0: off).
        keep_heap_warm()
        self._times = HostTimes()
        options: MemoryStoreOptions = {"dimension": dimension, "shard_count": shard_count, "index": index}
        first = Partition(runtime or Runtime(storage_at(storage_path, 0)), name, options, self._times)
        with first.runtime.lock:
            first.open()
        if shard_count is None:  # an existing store's recorded count (4 for a new one)
            self.shard_count = int(first.call(Memory.store_stats)["shard_count"])
            options["shard_count"] = self.shard_count
        count = self._layout(first, 1 if runtime is not None else partitions)
        self._parts = [first] + [
            Partition(Runtime(storage_at(storage_path, i)), name, options, self._times)
            for i in range(1, count)
        ]
        for part in self._parts[1:]:
            with part.runtime.lock:
                part.open()
        self._roll_forward()
        # One worker thread per partition: calls to a partition run in the order given
        # and never wait behind another partition's (searches run partition 0 on the
        # calling thread).
        self._workers = [
            ThreadPoolExecutor(1, thread_name_prefix=f"agentcell-{name}-{i}") for i in range(count)
        ]

    def _layout(self, first: Partition, requested: int | None) -> int:
        """The store's partition count, recorded in partition 0's storage when the store
        is created (the core's rule, WIT `memory.layout`)."""
        return int(first.core(Memory.layout, self.name, requested, _settings.current().thread_pool_size))

    def _core(self, fn: Callable[Concatenate[Memory, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A `memory` export that takes no store, on partition 0's instance."""
        return self._parts[0].core(fn, *args, **kwargs)

    def partition_of(self, key: str) -> int:
        """The partition holding `key` (the core's rule, WIT `memory.partitions-of`)."""
        return int(self._partitions_of([key])[0])

    def _partitions_of(self, keys: Sequence[str]) -> npt.NDArray[np.uint8]:
        if len(self._parts) == 1:
            return np.zeros(len(keys), dtype=np.uint8)
        text = json.dumps(list(keys), ensure_ascii=False)
        return np.frombuffer(
            bytes.fromhex(self._core(Memory.partitions_of, text, len(self._parts))), np.uint8
        )

    def _merged(self, parts: list[str], limit: int) -> list[SearchHit]:
        """The partitions' hits merged (WIT `memory.merge-hits`)."""
        return hits(parts[0] if len(parts) == 1 else self._core(Memory.merge_hits, parts, limit))

    @property
    def partitions(self) -> int:
        """How many component instances the store is split over."""
        return len(self._parts)

    @property
    def runtime(self) -> Runtime:
        """The component runtime of the store's first partition: other interfaces of the
        component (code analysis, principles) can be called on it, serialised with the
        store's own calls by the runtime's lock."""
        return self._parts[0].runtime

    def _each(self, task: Callable[[Partition], T]) -> list[T]:
        """`task` on every partition at once (the first on this thread), results in
        partition order. Every task finishes before the first failure is raised."""
        if len(self._parts) == 1 or self._parts[0].closed:
            return [task(self._parts[0])]  # closed: raises the "closed" error
        futures = [w.submit(task, p) for w, p in zip(self._workers[1:], self._parts[1:], strict=True)]
        results: list[T] = []
        error: BaseException | None = None
        try:
            results.append(task(self._parts[0]))
        except BaseException as e:  # the others still run: wait for them first
            error = e
        for f in futures:
            try:
                results.append(f.result())
            except BaseException as e:
                error = error or e
        if error is not None:
            raise error
        return results

    def _part_of(self, key: str) -> Partition:
        return self._parts[self.partition_of(key)]

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
        checked before anything is written; returns the number stored. Durable when this
        returns, and whole or absent after a crash: a batch split over several calls or
        partitions is written as pending pieces, then committed by one record in
        partition 0's storage (see `memory.put-pending` in the WIT)."""
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
        for i, k in enumerate(keys):
            _args.key(f"entries[{i}].key", k)

        # Each partition's rows, in calls of at most `chunk_rows`, with their entries' JSON.
        per_call = chunk_rows(self.dimension)
        chunks = [
            [rows[a : a + per_call] for a in range(0, len(rows), per_call)]
            for rows in self._rows_by_partition(keys)
        ]
        entries_jsons = [
            [_batch.entries_json(keys, metas, diffs, chunk) for chunk in part_chunks]
            for part_chunks in chunks
        ]
        if sum(map(len, chunks)) > 1:
            # Several calls: check all of it first, so none of it is written if any is bad
            # (each call is still checked in full by the core).
            _batch.precheck(matrix, self.dimension)
            self._check_entries(
                [j for part in entries_jsons for j in part], [c for part in chunks for c in part]
            )

        return self._put(matrix, chunks, entries_jsons)

    def _put(
        self,
        matrix: npt.NDArray[np.float32],
        chunks: list[list[Sequence[int]]],
        entries_jsons: list[list[str]],
    ) -> int:
        """Sends the calls, each on its partition's worker, while this thread encodes the
        next (the GIL-bound part: hex and JSON); at most two calls queued per partition."""
        pending: list[list[Future[Any]]] = [[] for _ in self._parts]
        stored = 0
        # One call: one write, atomic by itself. More: pieces of a batch, committed last.
        batch = uuid.uuid4().hex if sum(map(len, chunks)) > 1 else None
        try:
            for j in range(max(map(len, chunks))):  # partitions in turn: all of them busy
                for i, part in enumerate(self._parts):
                    if j >= len(chunks[i]):
                        continue
                    while len(pending[i]) >= 2:
                        stored += int(pending[i].pop(0).result())
                    chunk = chunks[i][j]
                    block = matrix[chunk.start : chunk.stop] if isinstance(chunk, range) else matrix[chunk]
                    pieces = to_hex_pieces(block)
                    if batch is None:
                        call = self._workers[i].submit(
                            part.call, Memory.store_put, entries_jsons[i][j], pieces
                        )
                    else:
                        call = self._workers[i].submit(
                            part.call, Memory.store_put_pending, batch, entries_jsons[i][j], pieces
                        )
                    pending[i].append(call)
        except BaseException:
            for f in (f for calls in pending for f in calls):
                f.exception()  # the calls already sent finish before this raises
            if batch is not None:
                self._finish_batch(batch, [i for i, c in enumerate(chunks) if c], False)
            raise
        error: BaseException | None = None
        for f in (f for calls in pending for f in calls):
            try:
                stored += int(f.result())
            except BaseException as e:
                error = error or e
        if batch is not None:
            self._finish_batch(batch, [i for i, c in enumerate(chunks) if c], error is None)
        if error is not None:
            raise error
        return stored

    def _finish_batch(self, batch: str, written: list[int], commit: bool) -> None:
        """Commits `batch` (partition 0 first: its record decides) or aborts it in the
        partitions that hold pieces of it."""
        if commit:
            self._parts[0].call(Memory.store_commit_batch, batch)
            for i in written:
                if i != 0:
                    self._parts[i].call(Memory.store_commit_batch, batch)
            return
        for i in written:
            # On failure it stays pending: invisible to every reader, as if aborted.
            with contextlib.suppress(AgentcellError):
                self._parts[i].call(Memory.store_abort_batch, batch)

    def _roll_forward(self) -> None:
        """Commits in each partition the pending batches partition 0 has committed (a
        writer stopped between the decision and the last partition's commit)."""
        first = self._parts[0]
        for part in self._parts[1:]:
            for batch in part.call(Memory.store_pending_batches):
                if first.call(Memory.store_batch_committed, batch):
                    part.call(Memory.store_commit_batch, batch)

    def _check_entries(self, entries_jsons: list[str], chunks: list[Sequence[int]]) -> None:
        """Checks every call's entries as one batch (`memory.check-entries`); the core
        names a bad entry by its row in the caller's batch, which it is told."""
        rows = np.fromiter((row for chunk in chunks for row in chunk), dtype="<u4")
        try:
            self.runtime.exports.memory.check_entries(entries_jsons, rows.tobytes().hex())
        except AgentcellError as e:
            raise memory_error(e) from e

    def _rows_by_partition(self, keys: Sequence[str]) -> list[Sequence[int]]:
        """Each partition's rows of a batch, in batch order (one partition: all rows)."""
        count = len(self._parts)
        if count == 1:
            return [range(len(keys))]
        of = self._partitions_of(keys)
        return [np.flatnonzero(of == i).tolist() for i in range(count)]

    def delete_embedding(self, key: str) -> bool:
        """Removes `key`; True when it existed."""
        return self.delete_embeddings([key]) == 1

    def delete_embeddings(self, keys: Sequence[str]) -> int:
        """Removes the keys (one durable write per partition); returns how many existed."""
        count = len(self._parts)
        if isinstance(keys, str):
            raise ValidationError("keys: must be a sequence of keys, not one string", field="keys")
        for i, k in enumerate(keys):
            _args.key(f"keys[{i}]", k)
        by_part: list[list[str]] = [[] for _ in range(count)]
        for k, i in zip(keys, self._partitions_of(keys), strict=True):
            by_part[i].append(k)

        def delete(part: Partition) -> int:
            mine = by_part[self._parts.index(part)]
            return int(part.call(Memory.store_delete, mine)) if mine or count == 1 else 0

        return sum(self._each(delete))

    # --- reading -------------------------------------------------------------------

    def get_embedding(self, key: str) -> dict[str, Any] | None:
        """``{"key", "embedding" (float32 array), "metadata", "diff_ops", "stored_at_ms"}``
        or None."""
        entry = self._part_of(_args.key("key", key)).call(Memory.store_get, key)
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
        query = to_hex(as_vector(query_embedding, "query_embedding"))
        options: MemorySearchOptions = {
            "limit": _args.integer("limit", limit, 1, _args.MAX_LIMIT),
            "min_similarity": _args.number("min_similarity", min_similarity),
            "filter_json": _args.json_object("filter", filter) if filter is not None else None,
            "exact": self.index == "flat" if exact is None else bool(exact),
            "probes": _args.integer("probes", probes, 1, 2**32 - 1) if probes is not None else None,
        }
        return self._merged(self._each(lambda p: p.call(Memory.store_search, query, options)), limit)

    def calculate_resonance(self, embedding1: ArrayLike, embedding2: ArrayLike) -> float:
        """``clamp(c * (1 + 0.1 * sin(pi * c)), 0, 1)``, c = cosine(embedding1, embedding2)."""
        a, b = as_vector(embedding1, "embedding1"), as_vector(embedding2, "embedding2")
        try:
            return float(self.runtime.exports.memory.resonance(to_hex(a), to_hex(b)))
        except AgentcellError as e:
            raise memory_error(e) from e

    def query_by_resonance(
        self, min_resonance: float, max_results: int | None = None, *, query: ArrayLike | None = None
    ) -> list[SearchHit]:
        """Entries whose resonance with `query` (default: the store's mean direction) is
        >= `min_resonance`, as ``(key, resonance, metadata)``, best first."""
        q = to_hex(as_vector(query, "query")) if query is not None else None
        if q is None and len(self._parts) > 1:
            # The mean direction of the whole store: the partitions' sums added up.
            sums = [
                from_hex(h) for h in self._each(lambda p: p.call(Memory.store_direction_sum)) if h is not None
            ]
            total = np.sum(sums, axis=0, dtype=np.float64) if sums else None
            if total is None or not total.any():
                return []
            q = to_hex(np.asarray(total, dtype=np.float32))
        args = (float(min_resonance), max_results, q)
        hits = self._each(lambda p: p.call(Memory.store_query_by_resonance, *args))
        return self._merged(hits, max_results if max_results is not None else MAX_RESULTS)

    def keys(self) -> list[str]:
        """Every key: partition by partition, each in insertion order."""
        return [k for keys in self._each(lambda p: json.loads(p.call(Memory.store_keys_json))) for k in keys]

    def __len__(self) -> int:
        return sum(int(n) for n in self._each(lambda p: p.call(Memory.store_count)))

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._part_of(key).call(Memory.store_get, key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    # --- index, memory, profiling --------------------------------------------------

    def build_index(self, lists: int | None = None) -> None:
        """Trains the IVF index now rather than on the first approximate search; `lists`
        in all (shared out between the partitions)."""
        share = None if lists is None else max(1, -(-lists // len(self._parts)))
        self._each(lambda p: p.call(Memory.store_build_index, share))

    def get_memory_stats(self) -> dict[str, Any]:
        """entries, dimension, used_bytes, vector_bytes, raw_vector_bytes, index_bytes,
        metadata_bytes, cache_entries, index_kind, index_trained, segments, partitions,
        ...: counts and sizes summed over the partitions."""
        parts = self._each(lambda p: p.call(Memory.store_stats))
        merged = parts[0] if len(parts) == 1 else self._core(Memory.merge_stats, parts)
        stats: dict[str, Any] = dict(merged)
        stats["partitions"] = len(self._parts)
        return stats

    def garbage_collect(self, aggressive: bool = False) -> dict[str, int]:
        """Compacts the persisted segments (and, `aggressive`, frees caches and spare
        memory); returns segments_before, segments_after, bytes_reclaimed."""
        reports = self._each(lambda p: p.call(Memory.store_garbage_collect, aggressive))
        return {
            "segments_before": sum(r["segments_before"] for r in reports),
            "segments_after": sum(r["segments_after"] for r in reports),
            "bytes_reclaimed": sum(r["bytes_reclaimed"] for r in reports),
        }

    def clear_cache(self) -> None:
        """Drops the IVF index; it is rebuilt when next needed."""
        self._each(lambda p: p.call(Memory.store_clear_cache))

    def enable_profiling(self, enabled: bool = True) -> None:
        """Counts operations and their durations (in the core and as seen from Python)."""
        self._times.enabled = enabled
        self._each(lambda p: p.call(Memory.store_set_profiling, enabled))

    def get_profiling_data(self) -> dict[str, dict[str, float]]:
        """``{operation: {count, total_ms, avg_duration_ms}}`` measured in the core (over
        all partitions), plus ``call:<function>`` entries per component call measured
        from Python (boundary included)."""
        data: dict[str, dict[str, float]] = {}
        for part in self._each(lambda p: p.call(Memory.store_profiling)):
            for op in part:
                mine = data.setdefault(op["op"], {"count": 0, "total_ms": 0.0})
                mine["count"] += op["count"]
                mine["total_ms"] += op["total_ns"] / 1e6
        for figures in data.values():
            figures["avg_duration_ms"] = figures["total_ms"] / figures["count"] if figures["count"] else 0.0
        data.update(self._times.summary())
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
            runtime=self.runtime,
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
        """Ends this opener's hold on the store; everything acknowledged stays persisted.
        Another `HTMCore` of the same store in the same runtime stays open (each opener
        owns a `memory.store` resource of its own); the in-memory copy goes with the last."""
        for part in self._parts:
            part.close()
        for worker in self._workers:
            worker.shutdown(wait=False)

    def destroy(self) -> None:
        """Deletes the store's persisted data and closes it, for every opener: another
        `HTMCore` of it in the same runtime then raises `HTMError` on use."""
        self._each(lambda p: p.call(Memory.store_destroy))
        self._core(Memory.forget_layout, self.name)
        for part in self._parts:
            part.close()
        for worker in self._workers:
            worker.shutdown(wait=False)

    def __enter__(self) -> HTMCore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"HTMCore(name={self.name!r}, dimension={self.dimension}, index={self.index!r},"
            f" partitions={len(self._parts)})"
        )

    # --- async twins: the sync methods run in a worker thread ------------------------

    store_embedding_async = async_twin(store_embedding)
    store_embeddings_async = async_twin(store_embeddings)
    get_embedding_async = async_twin(get_embedding)
    search_similar_async = async_twin(search_similar)
    query_by_resonance_async = async_twin(query_by_resonance)
