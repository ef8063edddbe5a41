"""The message bus behind the component's `transport` import: signed envelopes (hex
blobs) appended per topic, read by position.

Three backends, one contract (at least once, in publish order per topic, to every
reader of the topic in every process on the bus, the publisher's own included):

- `MemoryBus`: agents in one process.
- `SQLiteBus`: the embedded default, an append-only log (table `mesh_log`) in a SQLite
  file shared by the processes of one machine; readers poll it. It lives in the default
  storage file, so agents on one machine meet with no configuration. Entries older
  than `retention` seconds (default 7 days) are dropped as the log grows.
- `RedisBus`: Redis Streams (`agentcell:bus:{topic}`, capped near `max_len` entries),
  for several machines.

Positions are strings (`"0"`: before the first entry). A durable reader keeps its
position with `save_position(name, position)` and finds it again after a restart.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from .errors import TransportError

__all__ = ["START", "Bus", "MemoryBus", "RedisBus", "SQLiteBus"]

START = "0"
"""The position before the first entry of every topic."""

Entry = tuple[str, str]
"""A position and the envelope (hex) found there."""


class Bus(Protocol):
    """What a bus does; every backend raises `TransportError` when it fails."""

    kind: str

    def publish(self, topic: str, envelope: str) -> None: ...
    def read(self, topic: str, after: str, limit: int, wait: float) -> list[Entry]: ...
    def end(self, topic: str) -> str: ...
    def load_position(self, name: str) -> str | None: ...
    def save_position(self, name: str, position: str) -> None: ...
    def ping(self) -> bool: ...
    def close(self) -> None: ...


class MemoryBus:
    """Agents in one process: a list per topic and a condition to wake readers."""

    kind = "memory"

    def __init__(self) -> None:
        self._log: dict[str, list[str]] = {}
        self._positions: dict[str, str] = {}
        self._grew = threading.Condition()

    def publish(self, topic: str, envelope: str) -> None:
        with self._grew:
            self._log.setdefault(topic, []).append(envelope)
            self._grew.notify_all()

    def read(self, topic: str, after: str, limit: int, wait: float) -> list[Entry]:
        start = int(after)
        deadline = time.monotonic() + wait
        with self._grew:
            while True:
                entries = self._log.get(topic, [])[start : start + limit]
                left = deadline - time.monotonic()
                if entries or left <= 0:
                    return [(str(start + i + 1), e) for i, e in enumerate(entries)]
                self._grew.wait(left)

    def end(self, topic: str) -> str:
        with self._grew:
            return str(len(self._log.get(topic, [])))

    def load_position(self, name: str) -> str | None:
        return self._positions.get(name)

    def save_position(self, name: str, position: str) -> None:
        self._positions[name] = position

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS mesh_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,
    envelope TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS mesh_log_topic ON mesh_log (topic, seq);
CREATE TABLE IF NOT EXISTS mesh_position (name TEXT PRIMARY KEY, position TEXT NOT NULL);
"""


class SQLiteBus:
    """An append-only log in the SQLite file at `path` (WAL), shared by processes."""

    kind = "sqlite"
    PRUNE_EVERY = 1000

    def __init__(self, path: str | Path, *, retention: float = 7 * 24 * 3600) -> None:
        self.path = str(path)
        self.retention = retention
        self._lock = threading.Lock()
        self._published = 0
        self._local = threading.Condition()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as e:
            raise TransportError(f"cannot open the SQLite bus at {self.path!r}: {e}", field="bus") from e

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        try:
            with self._lock:
                return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as e:
            raise TransportError(f"the SQLite bus at {self.path} failed: {e}") from e

    def publish(self, topic: str, envelope: str) -> None:
        now = time.time()
        self._run("INSERT INTO mesh_log (topic, envelope, at) VALUES (?, ?, ?)", (topic, envelope, now))
        self._published += 1
        if self._published % self.PRUNE_EVERY == 0:
            self._run("DELETE FROM mesh_log WHERE at < ?", (now - self.retention,))
        with self._local:
            self._local.notify_all()

    def read(self, topic: str, after: str, limit: int, wait: float) -> list[Entry]:
        deadline = time.monotonic() + wait
        pause = 0.0005
        while True:
            rows = self._run(
                "SELECT seq, envelope FROM mesh_log WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?",
                (topic, int(after), limit),
            )
            left = deadline - time.monotonic()
            if rows or left <= 0:
                return [(str(seq), env) for seq, env in rows]
            # Another process's publish shows up at the next poll; this one's at once.
            with self._local:
                self._local.wait(min(pause, left))
            pause = min(pause * 2, 0.001)

    def end(self, topic: str) -> str:
        return str(self._run("SELECT COALESCE(MAX(seq), 0) FROM mesh_log WHERE topic = ?", (topic,))[0][0])

    def load_position(self, name: str) -> str | None:
        rows = self._run("SELECT position FROM mesh_position WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    def save_position(self, name: str, position: str) -> None:
        self._run(
            "INSERT INTO mesh_position (name, position) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            (name, position),
        )

    def ping(self) -> bool:
        try:
            self._run("SELECT 1")
            return True
        except TransportError:
            return False

    def close(self) -> None:
        with self._lock:
            self._db.close()


class RedisBus:
    """Redis Streams at `url`: one stream per topic, for agents on several machines."""

    kind = "redis"

    def __init__(self, url: str, *, max_len: int = 100_000) -> None:
        try:
            import redis
        except ImportError as e:  # an optional dependency
            raise TransportError(
                'the Redis bus needs the redis package: pip install "agentcell[redis]"', field="bus"
            ) from e
        self._redis = redis
        self.shown = url.rsplit("@", 1)[-1]
        self.max_len = max_len
        try:
            self._db: Any = redis.Redis.from_url(url, socket_timeout=30)
            self._db.ping()
        except (redis.RedisError, ValueError) as e:
            raise TransportError(f"redis bus {self.shown}: {e}", field="bus") from e

    @staticmethod
    def _key(topic: str) -> str:
        return f"agentcell:bus:{topic}"

    def _do(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except self._redis.RedisError as e:
            raise TransportError(f"redis bus {self.shown}: {e}") from e

    def publish(self, topic: str, envelope: str) -> None:
        self._do(self._db.xadd, self._key(topic), {"e": envelope}, maxlen=self.max_len, approximate=True)

    def read(self, topic: str, after: str, limit: int, wait: float) -> list[Entry]:
        start = "0-0" if after == START else after
        block = max(1, int(wait * 1000)) if wait > 0 else None
        got = self._do(self._db.xread, {self._key(topic): start}, count=limit, block=block)
        return [(pos.decode(), fields[b"e"].decode()) for _, entries in got or [] for pos, fields in entries]

    def end(self, topic: str) -> str:
        last = self._do(self._db.xrevrange, self._key(topic), count=1)
        return str(last[0][0].decode()) if last else START

    def load_position(self, name: str) -> str | None:
        value = self._do(self._db.hget, "agentcell:bus-positions", name)
        return value.decode() if value is not None else None

    def save_position(self, name: str, position: str) -> None:
        self._do(self._db.hset, "agentcell:bus-positions", name, position)

    def ping(self) -> bool:
        try:
            return bool(self._db.ping())
        except self._redis.RedisError:
            return False

    def close(self) -> None:
        self._db.close()
