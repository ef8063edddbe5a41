"""The SQLite backend of the component's `storage` import: the embedded default.

A SQLite file (stdlib `sqlite3`, WAL journal, `synchronous=FULL`
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

from ..errors import StorageError
from ._rules import MAX_LIST_LIMIT, StorageFailure, check_key

__all__ = ["SQLiteStorage"]


class SQLiteStorage:
    """A namespaced key-value store in one SQLite file."""

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        page_size: int | None = None,
        journal: str = "wal",
        synchronous: str = "full",
    ) -> None:
        """`page_size` (a power of two, 512..=65536) applies to a file this call creates;
        large pages suit large values (fewer pages per value, fewer writes per commit).
        `journal`: "wal" (readers never wait for a writer; every page is written twice,
        to the log and at checkpoint) or "truncate" (a rollback journal: pages appended
        by a write are written once, readers wait while a write commits). `synchronous`:
        "full" (the default: a write is on disk before it returns, whatever happens
        next) or "normal" (with WAL: a write survives the process crashing and the file
        stays whole after a power loss, but the last writes before it may be lost)."""
        if synchronous not in ("full", "normal"):
            raise StorageError(
                f'synchronous must be "full" or "normal", got {synchronous!r}', field="synchronous"
            )
        if journal not in ("wal", "truncate"):
            raise StorageError(f'journal must be "wal" or "truncate", got {journal!r}', field="journal")
        if page_size is not None and (page_size < 512 or page_size > 65536 or page_size & (page_size - 1)):
            raise StorageError(
                f"page_size must be a power of two in 512..=65536, got {page_size}", field="page_size"
            )
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
            if page_size is not None:
                # Only takes effect on a new, empty file, and only before WAL is on.
                self._db.execute(f"PRAGMA page_size={int(page_size)}")
            self._db.execute(f"PRAGMA journal_mode={journal.upper()}")
            self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            # A rowid table: values (up to megabytes) live in the table's own pages and
            # overflow chains, with (ns, key) in a separate index. WITHOUT ROWID keeps the
            # values inside the key's B-tree, which makes reading large values 2-10x
            # slower (measured). Files made by earlier versions keep their table.
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, key TEXT NOT NULL,"
                " value TEXT NOT NULL, PRIMARY KEY (ns, key))"
            )
        except (sqlite3.Error, OSError) as e:
            raise StorageError(f"cannot open storage at {self.path!r}: {e}", field="storage") from e

    @property
    def journal(self) -> str:
        """The journal mode in effect: "wal" or "truncate" (an existing WAL file that
        another connection holds open stays "wal")."""
        return str(self._run("PRAGMA journal_mode", ())[0][0]).lower()

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
        value = self.get_utf8(ns, key)
        return value.decode() if value is not None else None

    def get_utf8(self, ns: str, key: str) -> bytes | None:
        """`get`, returning the value's UTF-8 bytes as stored (no decoding)."""
        check_key("namespace", ns)
        check_key("key", key)
        rows = self._run("SELECT CAST(value AS BLOB) FROM kv WHERE ns=? AND key=?", (ns, key))
        if not rows:
            return None
        value = rows[0][0]
        assert isinstance(value, bytes)  # CAST(... AS BLOB) always gives bytes
        return value

    def set(self, ns: str, key: str, value: str | bytes) -> None:
        self.set_many(ns, [(key, value)])

    def delete(self, ns: str, key: str) -> bool:
        return self.delete_many(ns, [key]) == 1

    def exists(self, ns: str, key: str) -> bool:
        check_key("namespace", ns)
        check_key("key", key)
        return bool(self._run("SELECT 1 FROM kv WHERE ns=? AND key=?", (ns, key)))

    def list_keys(self, ns: str, prefix: str, cursor: str | None, limit: int) -> tuple[list[str], str | None]:
        check_key("namespace", ns)
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise StorageFailure("invalid-key", f"limit must be 1..={MAX_LIST_LIMIT}, got {limit}")
        # The upper bound ends the index scan where the prefix's keys end; without it a
        # prefix with few keys scanned every key sorted after them.
        rows = self._run(
            "SELECT key FROM kv WHERE ns=? AND key>=? AND key>? AND key<? AND substr(key,1,?)=?"
            " ORDER BY key LIMIT ?",
            (ns, prefix, cursor or "", prefix_end(prefix), len(prefix), prefix, limit + 1),
        )
        keys = [str(r[0]) for r in rows[:limit]]
        return keys, (keys[-1] if len(rows) > limit else None)

    def get_many(self, ns: str, keys: Sequence[str]) -> list[str | None]:
        return [v.decode() if v is not None else None for v in self.get_many_utf8(ns, keys)]

    def get_many_utf8(self, ns: str, keys: Sequence[str]) -> list[bytes | None]:
        """`get_many`, returning each value's UTF-8 bytes as stored (one statement per
        500 keys)."""
        check_key("namespace", ns)
        for key in keys:
            check_key("key", key)
        found: dict[str, bytes] = {}
        try:
            with self._lock:
                for chunk in _chunks(keys):
                    found.update(self._select(ns, chunk))
        except self._sqlite3.Error as e:
            raise StorageFailure("unavailable", f"{self.path}: {e}") from e
        return [found.get(k) for k in keys]

    def _select(self, ns: str, keys: Sequence[str]) -> dict[str, bytes]:
        """The values of those of `keys` present (one statement; the caller holds the lock)."""
        marks = ",".join("?" * len(keys))
        rows = self._db.execute(
            f"SELECT key, CAST(value AS BLOB) FROM kv WHERE ns=? AND key IN ({marks})", (ns, *keys)
        ).fetchall()
        return {str(k): bytes(v) for k, v in rows}

    def set_many(self, ns: str, entries: Sequence[tuple[str, str | bytes]]) -> None:
        """Stores every entry or none. A value is `str` or its UTF-8 `bytes` (stored as
        the same TEXT, without a decode)."""
        check_key("namespace", ns)
        for key, _ in entries:
            check_key("key", key)
        self._transaction(
            "INSERT INTO kv (ns, key, value) VALUES (?, ?, CAST(? AS TEXT))"
            " ON CONFLICT (ns, key) DO UPDATE SET value=excluded.value",
            [(ns, k, v) for k, v in entries],
        )

    def compare_and_set(self, ns: str, key: str, expected: str | None, value: str | bytes) -> bool:
        """Stores `value` only if `key` holds exactly `expected` (None: nothing), in one
        IMMEDIATE transaction (no other writer, thread or process, comes in between);
        True when it stored."""
        check_key("namespace", ns)
        check_key("key", key)
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    row = self._db.execute(
                        "SELECT CAST(value AS BLOB) FROM kv WHERE ns=? AND key=?", (ns, key)
                    ).fetchone()
                    current = row[0].decode() if row is not None else None
                    if current != expected:
                        self._db.execute("ROLLBACK")
                        return False
                    self._db.execute(
                        "INSERT INTO kv (ns, key, value) VALUES (?, ?, CAST(? AS TEXT))"
                        " ON CONFLICT (ns, key) DO UPDATE SET value=excluded.value",
                        (ns, key, value),
                    )
                    self._db.execute("COMMIT")
                    return True
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
        except self._sqlite3.Error as e:
            raise StorageFailure("unavailable", f"{self.path}: {e}") from e

    def commit(
        self,
        ns: str,
        guards: Sequence[tuple[str, str | None]],
        writes: Sequence[tuple[str, str | bytes | None]],
    ) -> bool:
        """Applies `writes` (a value: store it; None: remove the key) all or none, only if
        every guard's key holds exactly its expected value, in one IMMEDIATE transaction;
        True when it applied them."""
        check_key("namespace", ns)
        for key, _ in [*guards, *writes]:
            check_key("key", key)
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    if guards and not self._guards_hold(ns, guards):
                        self._db.execute("ROLLBACK")
                        return False
                    # The last write of a key wins, as if applied one by one.
                    final = dict(writes)
                    gone = [(ns, k) for k, v in final.items() if v is None]
                    kept = [(ns, k, v) for k, v in final.items() if v is not None]
                    if gone:
                        self._db.executemany("DELETE FROM kv WHERE ns=? AND key=?", gone)
                    if kept:
                        self._db.executemany(
                            "INSERT INTO kv (ns, key, value) VALUES (?, ?, CAST(? AS TEXT))"
                            " ON CONFLICT (ns, key) DO UPDATE SET value=excluded.value",
                            kept,
                        )
                    self._db.execute("COMMIT")
                    return True
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
        except self._sqlite3.Error as e:
            raise StorageFailure("unavailable", f"{self.path}: {e}") from e

    def _guards_hold(self, ns: str, guards: Sequence[tuple[str, str | None]]) -> bool:
        """True when every guard's key holds its expected value (None: is absent)."""
        keys = [k for k, _ in guards]
        found: dict[str, bytes] = {}
        for chunk in _chunks(keys):
            found.update(self._select(ns, chunk))
        return all(
            (None if (v := found.get(k)) is None else v.decode()) == expected for k, expected in guards
        )

    def delete_many(self, ns: str, keys: Sequence[str]) -> int:
        check_key("namespace", ns)
        for key in keys:
            check_key("key", key)
        return self._transaction("DELETE FROM kv WHERE ns=? AND key=?", [(ns, k) for k in keys])


def _chunks(keys: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    """`keys` in pieces small enough for one statement's parameters."""
    return [keys[i : i + size] for i in range(0, len(keys), size)]


def prefix_end(prefix: str) -> str:
    """A string greater than every key starting with `prefix` and less than the keys
    after them (UTF-8 byte order is code point order): the prefix with its last
    character advanced; for no prefix, one past every key."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < 0x10FFFF:
            following = 0xE000 if 0xD7FF <= last < 0xE000 else last + 1
            return "".join(chars) + chr(following)
    return "\U0010ffff" * 257  # longer than any key (at most 1024 bytes)
