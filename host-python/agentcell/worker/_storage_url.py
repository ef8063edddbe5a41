"""Where a worker or client keeps its tasks, from a storage URL:

- `None`: the default data file (`AGENTCELL_STORAGE`, else the user data directory);
- `sqlite:///relative/file.db`, `sqlite:////absolute/file.db` (SQLAlchemy's form), or a
  plain path: a SQLite file, shared by every process that opens it; `?synchronous=normal`
  trades the last writes before a power loss for speed (the default, `full`, syncs
  every commit to disk);
- `redis://host:port/db` (or `rediss://`): a Redis server, shared by processes on
  several machines (and with the Rust host, which lays it out the same way);
- `postgresql://user:password@host:port/database`: a PostgreSQL server (psycopg 3),
  shared by processes on several machines;
- `memory://`: this process only.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .._wasm import Runtime
from .._wasm.runtime import default_storage_path
from ..errors import InvalidArgumentError, StorageError
from ..storage import PostgresStorage, RedisStorage, SQLiteStorage, StorageBackend, StorageFailure

__all__ = ["open_runtime", "storage_path"]


def storage_path(storage: str | Path | None) -> str | Path | StorageBackend:
    """The SQLite path (or `":memory:"`), or the server backend, a storage URL names."""
    if storage is None:
        return default_storage_path()
    if isinstance(storage, Path):
        return storage
    if not isinstance(storage, str) or not storage:
        raise InvalidArgumentError(f"storage: must be a URL or a path, got {storage!r}", field="storage")
    if storage in ("memory://", ":memory:"):
        return ":memory:"
    if "://" not in storage:
        return Path(storage)
    scheme = urlsplit(storage).scheme
    if scheme == "sqlite":
        rest, _, query = storage[len("sqlite://") :].partition("?")
        if not rest.startswith("/") or len(rest) < 2:
            raise InvalidArgumentError(
                f"storage: {storage!r} must be sqlite:///relative/path or sqlite:////absolute/path",
                field="storage",
            )
        if not query:
            return Path(rest[1:])
        options = parse_qs(query, keep_blank_values=True)
        if set(options) != {"synchronous"} or len(options["synchronous"]) != 1:
            raise InvalidArgumentError(
                f"storage: {storage!r}: the one option is synchronous=full|normal", field="storage"
            )
        return SQLiteStorage(Path(rest[1:]), synchronous=options["synchronous"][0])
    if scheme in ("redis", "rediss", "postgresql", "postgres"):
        try:
            if scheme.startswith("redis"):
                return RedisStorage(storage)
            return PostgresStorage(storage)
        except StorageFailure as e:  # unreachable, refused, bad URL: say which
            raise StorageError(e.message, field="storage") from e
    raise InvalidArgumentError(f"storage: unknown scheme {scheme!r} in {storage!r}", field="storage")


def open_runtime(storage: str | Path | None) -> Runtime:
    """A runtime whose storage is what `storage` names."""
    return Runtime(storage_path(storage))
