"""One partition of a store: a component instance (with its own storage) holding the
keys that fall to it, its own hold on the store there (a `memory.store` resource) and
reopening after a trap; plus the timing of calls as seen from Python."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from .._wasm import Runtime
from .._wit import Memory, MemoryStore, MemoryStoreOptions
from ..errors import AgentcellError, InvalidArgumentError, NotFoundError, StorageError
from ..storage import SQLiteStorage
from .exceptions import HTMError, MemoryStorageError, ValidationError

T = TypeVar("T")
P = ParamSpec("P")

#: One search result: key, similarity (or resonance), metadata.
SearchHit = tuple[str, float, dict[str, Any]]

#: Partition 0's file in a store directory; partition i's is ``htm.part<i>.sqlite3``.
DB_FILE = "htm.sqlite3"
JOURNAL = "truncate"


def memory_error(e: AgentcellError) -> AgentcellError:
    """The memory-specific exception for a component error."""
    if isinstance(e, InvalidArgumentError):
        return ValidationError(e.message, field=e.field)
    if isinstance(e, StorageError):
        return MemoryStorageError(e.message, field=e.field)
    if isinstance(e, NotFoundError) and e.field == "store":  # closed, or destroyed by another opener
        return HTMError(e.message, field="store")
    return e


def hits(text: str) -> list[SearchHit]:
    return [(k, float(s), m) for k, s, m in json.loads(text)]


class HostTimes:
    """Durations of component calls as seen from Python (boundary included)."""

    def __init__(self) -> None:
        self.enabled = False
        self._lock = threading.Lock()
        self._times: dict[str, list[float]] = {}

    def record(self, name: str, seconds: float) -> None:
        with self._lock:
            self._times.setdefault(name, []).append(seconds)

    def summary(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {
                f"call:{name}": {
                    "count": len(times),
                    "total_ms": sum(times) * 1000,
                    "avg_duration_ms": sum(times) * 1000 / len(times),
                }
                for name, times in self._times.items()
            }


class Partition:
    """One component instance holding a share of a store: its runtime (and storage),
    its own store there (a `memory.store` resource), and reopening after a trap."""

    def __init__(self, runtime: Runtime, name: str, options: MemoryStoreOptions, times: HostTimes) -> None:
        self.runtime = runtime
        self.name = name
        self.options = options
        self.times = times
        self.store: MemoryStore | None = None
        self.generation = -1
        self.closed = False

    def open(self) -> None:
        if self.store is not None:
            self.runtime.drop(self.store)  # of an instance replaced after a trap: freed only
        try:
            self.store = self.runtime.exports.memory.store_open(self.name, self.options)
        except AgentcellError as e:
            raise memory_error(e) from e
        self.generation = self.runtime.instantiations
        if self.times.enabled:
            self.runtime.exports.memory.store_set_profiling(self.store, True)

    def call(
        self, fn: Callable[Concatenate[Memory, MemoryStore, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Calls `fn` (a `memory` export of the facade, e.g. `Memory.store_count`) on this
        partition's store: `fn(memory, store, *args)`. After a trap the runtime has a new
        instance; the store is reopened from storage first (nothing acknowledged is lost)."""
        started = time.perf_counter()
        with self.runtime.lock:
            if self.closed:
                raise HTMError(f"the store {self.name!r} is closed")
            if self.generation != self.runtime.instantiations:
                self.open()
            try:
                assert self.store is not None
                out = fn(self.runtime.exports.memory, self.store, *args, **kwargs)
            except AgentcellError as e:
                raise memory_error(e) from e
        if self.times.enabled:
            self.times.record(
                fn.__name__.removeprefix("store_").replace("_", "-"), time.perf_counter() - started
            )
        return out

    def core(self, fn: Callable[Concatenate[Memory, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A `memory` export that takes no store (partition rules), on this
        partition's instance."""
        with self.runtime.lock:
            try:
                return fn(self.runtime.exports.memory, *args, **kwargs)
            except AgentcellError as e:
                raise memory_error(e) from e

    def close(self) -> None:
        with self.runtime.lock:
            if not self.closed and self.store is not None:
                # Dropping ends this opener's hold; a store of an instance replaced
                # after a trap is only freed.
                self.runtime.drop(self.store)
            self.closed = True


def storage_at(storage_path: str | Path, partition: int) -> SQLiteStorage:
    """The SQLite storage of `partition` under `storage_path` (a directory, created if
    needed, or ``":memory:"``): ``htm.sqlite3``, ``htm.part1.sqlite3``, ..."""
    if str(storage_path) == ":memory:":
        return SQLiteStorage(":memory:")
    directory = Path(storage_path)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise HTMError(
            f"cannot create the store directory {str(directory)!r}: {e}", field="storage_path"
        ) from e
    file = DB_FILE if partition == 0 else DB_FILE.replace(".", f".part{partition}.", 1)
    try:
        # 64 KiB pages: segments are megabytes each; 16x fewer pages to write and
        # chain than SQLite's default 4 KiB (insert and reopen ~2x faster, measured).
        return SQLiteStorage(directory / file, page_size=65536, journal=JOURNAL)
    except StorageError as e:
        raise HTMError(str(e), field="storage_path") from e
