"""Storage backends for the component's `storage` import.

The embedded default is a SQLite file (stdlib `sqlite3`, WAL journal, `synchronous=FULL`
so a value is on disk before `set` returns); `":memory:"` keeps everything in memory.
Every call is one transaction: a failed call changes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3

from .errors import StorageError

__all__ = ["MAX_KEY_BYTES", "MAX_LIST_LIMIT", "SQLiteStorage", "StorageFailure"]

MAX_KEY_BYTES = 1024
MAX_LIST_LIMIT = 1000


class StorageFailure(Exception):
    """A storage call failed; `kind` is the WIT `storage-error` case."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _check_key(what: str, key: str) -> None:
    if not key:
        raise StorageFailure("invalid-key", f"{what} must not be empty")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise StorageFailure("invalid-key", f"{what} must be at most {MAX_KEY_BYTES} bytes")


class SQLiteStorage:
    """A namespaced key-value store in one SQLite file."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        import sqlite3  # on first use: ~7 ms of start-up otherwise

        self._sqlite3: Any = sqlite3
        self.path = str(path)
        self._lock = threading.Lock()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db: sqlite3.Connection = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, key TEXT NOT NULL,"
                " value TEXT NOT NULL, PRIMARY KEY (ns, key)) WITHOUT ROWID"
            )
        except (sqlite3.Error, OSError) as e:
            raise StorageError(f"cannot open storage at {self.path!r}: {e}", field="storage") from e

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _run(self, sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        try:
            with self._lock:
                rows: list[tuple[object, ...]] = self._db.execute(sql, params).fetchall()
                return rows
        except self._sqlite3.Error as e:
            raise StorageFailure("unavailable", f"{self.path}: {e}") from e

    def _transaction(self, sql: str, rows: Sequence[Sequence[object]]) -> int:
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    changed = 0
                    for row in rows:
                        changed += self._db.execute(sql, row).rowcount
                    self._db.execute("COMMIT")
                    return changed
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
        except self._sqlite3.Error as e:
            raise StorageFailure("unavailable", f"{self.path}: {e}") from e

    def get(self, ns: str, key: str) -> str | None:
        _check_key("namespace", ns)
        _check_key("key", key)
        rows = self._run("SELECT value FROM kv WHERE ns=? AND key=?", (ns, key))
        return str(rows[0][0]) if rows else None

    def set(self, ns: str, key: str, value: str) -> None:
        self.set_many(ns, [(key, value)])

    def delete(self, ns: str, key: str) -> bool:
        return self.delete_many(ns, [key]) == 1

    def exists(self, ns: str, key: str) -> bool:
        _check_key("namespace", ns)
        _check_key("key", key)
        return bool(self._run("SELECT 1 FROM kv WHERE ns=? AND key=?", (ns, key)))

    def list_keys(self, ns: str, prefix: str, cursor: str | None, limit: int) -> tuple[list[str], str | None]:
        _check_key("namespace", ns)
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise StorageFailure("invalid-key", f"limit must be 1..={MAX_LIST_LIMIT}, got {limit}")
        rows = self._run(
            "SELECT key FROM kv WHERE ns=? AND key>=? AND key>? AND substr(key,1,?)=? ORDER BY key LIMIT ?",
            (ns, prefix, cursor or "", len(prefix), prefix, limit + 1),
        )
        keys = [str(r[0]) for r in rows[:limit]]
        return keys, (keys[-1] if len(rows) > limit else None)

    def get_many(self, ns: str, keys: Sequence[str]) -> list[str | None]:
        return [self.get(ns, k) for k in keys]

    def set_many(self, ns: str, entries: Sequence[tuple[str, str]]) -> None:
        _check_key("namespace", ns)
        for key, _ in entries:
            _check_key("key", key)
        self._transaction(
            "INSERT INTO kv (ns, key, value) VALUES (?, ?, ?)"
            " ON CONFLICT (ns, key) DO UPDATE SET value=excluded.value",
            [(ns, k, v) for k, v in entries],
        )

    def delete_many(self, ns: str, keys: Sequence[str]) -> int:
        _check_key("namespace", ns)
        for key in keys:
            _check_key("key", key)
        return self._transaction("DELETE FROM kv WHERE ns=? AND key=?", [(ns, k) for k in keys])
