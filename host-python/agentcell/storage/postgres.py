"""The `storage` import on a PostgreSQL server (psycopg 3), shared by processes on
several machines: one table, `agentcell_kv (ns, key, value)`, keys in byte order
(`COLLATE "C"`).

Writers of one namespace take a transaction-level advisory lock on it, so a
compare-and-set or a guarded commit reads its guards and writes with no other writer of
that namespace in between (reads take no lock). Every call is one transaction: a failed
call changes nothing."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from ._rules import MAX_LIST_LIMIT, StorageFailure, check_key

__all__ = ["PostgresStorage"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS agentcell_kv (
    ns TEXT NOT NULL COLLATE "C",
    key TEXT NOT NULL COLLATE "C",
    value TEXT NOT NULL,
    PRIMARY KEY (ns, key)
)
"""


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class PostgresStorage:
    """The `storage` import backed by the PostgreSQL server at `url`
    (`postgresql://user:password@host:port/database`)."""

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError as e:  # an optional dependency
            raise StorageFailure(
                "unavailable", 'the PostgreSQL backend needs psycopg: pip install "agentcell[postgres]"'
            ) from e
        self._pg = psycopg
        self.url = url
        self.shown = url.rsplit("@", 1)[-1]
        self.path = self.shown
        self._lock = threading.Lock()
        try:
            self._db: Any = psycopg.connect(url, autocommit=True, connect_timeout=10)
            with self._db.transaction():
                # Two processes creating the table at once: the lock makes one wait.
                self._db.execute("SELECT pg_advisory_xact_lock(hashtext('agentcell_kv schema'))")
                self._db.execute(_SCHEMA)
        except psycopg.Error as e:
            raise StorageFailure("unavailable", f"postgresql {self.shown}: {e}") from e

    def _run(self, fn: Any) -> Any:
        with self._lock:
            try:
                return fn(self._db)
            except self._pg.Error as e:
                raise StorageFailure("unavailable", f"postgresql {self.shown}: {e}") from e

    def _write(self, ns: str, fn: Any) -> Any:
        """`fn(db)` in one transaction holding the namespace's writer lock."""

        def run(db: Any) -> Any:
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (ns,))
                return fn(db)

        return self._run(run)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get(self, ns: str, key: str) -> str | None:
        check_key("namespace", ns)
        check_key("key", key)
        row = self._run(
            lambda db: db.execute(
                "SELECT value FROM agentcell_kv WHERE ns = %s AND key = %s", (ns, key)
            ).fetchone()
        )
        return None if row is None else str(row[0])

    def get_utf8(self, ns: str, key: str) -> bytes | None:
        value = self.get(ns, key)
        return None if value is None else value.encode()

    def get_many(self, ns: str, keys: Sequence[str]) -> list[str | None]:
        check_key("namespace", ns)
        for key in keys:
            check_key("key", key)
        if not keys:
            return []
        rows = self._run(
            lambda db: db.execute(
                "SELECT key, value FROM agentcell_kv WHERE ns = %s AND key = ANY(%s)", (ns, list(keys))
            ).fetchall()
        )
        found = dict(rows)
        return [found.get(k) for k in keys]

    def set(self, ns: str, key: str, value: str | bytes) -> None:
        self.set_many(ns, [(key, value)])

    def set_many(self, ns: str, entries: Sequence[tuple[str, str | bytes]]) -> None:
        check_key("namespace", ns)
        for key, _ in entries:
            check_key("key", key)
        if not entries:
            return

        def write(db: Any) -> None:
            with db.cursor() as cur:
                cur.executemany(
                    "INSERT INTO agentcell_kv (ns, key, value) VALUES (%s, %s, %s) "
                    "ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value",
                    [(ns, k, _text(v)) for k, v in entries],
                )

        self._write(ns, write)

    def delete(self, ns: str, key: str) -> bool:
        return self.delete_many(ns, [key]) == 1

    def delete_many(self, ns: str, keys: Sequence[str]) -> int:
        check_key("namespace", ns)
        for key in keys:
            check_key("key", key)
        if not keys:
            return 0
        return int(
            self._write(
                ns,
                lambda db: (
                    db.execute(
                        "DELETE FROM agentcell_kv WHERE ns = %s AND key = ANY(%s)", (ns, list(set(keys)))
                    ).rowcount
                ),
            )
        )

    def exists(self, ns: str, key: str) -> bool:
        return self.get(ns, key) is not None

    def list_keys(self, ns: str, prefix: str, cursor: str | None, limit: int) -> tuple[list[str], str | None]:
        check_key("namespace", ns)
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise StorageFailure("invalid-key", f"limit must be 1..={MAX_LIST_LIMIT}, got {limit}")
        rows = self._run(
            lambda db: db.execute(
                "SELECT key FROM agentcell_kv WHERE ns = %s AND starts_with(key, %s) "
                "AND (%s::text IS NULL OR key > %s) ORDER BY key LIMIT %s",
                (ns, prefix, cursor, cursor, limit + 1),
            ).fetchall()
        )
        keys = [str(r[0]) for r in rows[:limit]]
        return keys, (keys[-1] if len(rows) > limit else None)

    def compare_and_set(self, ns: str, key: str, expected: str | None, value: str | bytes) -> bool:
        return self.commit(ns, [(key, expected)], [(key, value)])

    def commit(
        self,
        ns: str,
        guards: Sequence[tuple[str, str | None]],
        writes: Sequence[tuple[str, str | bytes | None]],
    ) -> bool:
        check_key("namespace", ns)
        for key, _ in [*guards, *writes]:
            check_key("key", key)

        def run(db: Any) -> bool:
            for key, expected in guards:
                row = db.execute(
                    "SELECT value FROM agentcell_kv WHERE ns = %s AND key = %s", (ns, key)
                ).fetchone()
                if (None if row is None else row[0]) != expected:
                    return False
            for key, value in writes:
                if value is None:
                    db.execute("DELETE FROM agentcell_kv WHERE ns = %s AND key = %s", (ns, key))
                else:
                    db.execute(
                        "INSERT INTO agentcell_kv (ns, key, value) VALUES (%s, %s, %s) "
                        "ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value",
                        (ns, key, _text(value)),
                    )
            return True

        return bool(self._write(ns, run))
