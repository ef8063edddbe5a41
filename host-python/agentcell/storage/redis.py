"""A Redis server as the storage backend (redis-py), for processes on several machines
sharing one state. The layout is the Rust host's, so Python and Rust processes share
one server: each value at `agentcell:kv:{ns}:{key}`, and each namespace's keys in the
sorted set `agentcell:idx:{ns}` (all scores 0, so ZRANGEBYLEX pages them in byte
order). Writes that touch several keys (batches, compare-and-set, commit) run as one
Lua script or one MULTI, so they are atomic for every client of the server.

Durability is the server's: with its defaults a value acknowledged here can be lost if
the server itself dies before it writes to disk (`appendonly yes` with `appendfsync
always` makes it as durable as the SQLite file).

Needs the `redis` package (`pip install "agentcell[redis]"`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._rules import MAX_LIST_LIMIT, StorageFailure, check_key

__all__ = ["RedisStorage"]

_CAS = """
local current = redis.call('GET', KEYS[1])
local expected = ARGV[3]
if (expected == nil and current == false) or (expected ~= nil and current == expected) then
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[2], 0, ARGV[1])
  return 1
end
return 0
"""

# KEYS = the index, the guarded value keys, the written value keys; ARGV = the number of
# guards, per guard a flag (1: expects a value) and the value, per write its key name, a
# flag (1: store) and the value.
_COMMIT = """
local guards = tonumber(ARGV[1])
local a = 2
for i = 1, guards do
  local current = redis.call('GET', KEYS[1 + i])
  if ARGV[a] == '1' then
    if current ~= ARGV[a + 1] then return 0 end
  elseif current ~= false then
    return 0
  end
  a = a + 2
end
for i = 1 + guards + 1, #KEYS do
  if ARGV[a + 1] == '1' then
    redis.call('SET', KEYS[i], ARGV[a + 2])
    redis.call('ZADD', KEYS[1], 0, ARGV[a])
  else
    redis.call('DEL', KEYS[i])
    redis.call('ZREM', KEYS[1], ARGV[a])
  end
  a = a + 3
end
return 1
"""


def _value_key(ns: str, key: str) -> str:
    return f"agentcell:kv:{ns}:{key}"


def _index_key(ns: str) -> str:
    return f"agentcell:idx:{ns}"


def _text(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


class RedisStorage:
    """The `storage` import backed by the Redis server at `url` (`redis://host:port/db`)."""

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError as e:  # an optional dependency
            raise StorageFailure(
                "unavailable", 'the Redis backend needs the redis package: pip install "agentcell[redis]"'
            ) from e
        self._redis = redis
        self.url = url
        self.shown = url.rsplit("@", 1)[-1]
        self.path = self.shown
        try:
            self._db: Any = redis.Redis.from_url(url, socket_timeout=10)
            self._db.ping()
        except (redis.RedisError, ValueError) as e:
            raise StorageFailure("unavailable", f"redis {self.shown}: {e}") from e
        self._cas = self._db.register_script(_CAS)
        self._commit = self._db.register_script(_COMMIT)

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except self._redis.RedisError as e:
            raise StorageFailure("unavailable", f"redis {self.shown}: {e}") from e

    def close(self) -> None:
        self._db.close()

    def get(self, ns: str, key: str) -> str | None:
        value = self.get_utf8(ns, key)
        return value.decode() if value is not None else None

    def get_utf8(self, ns: str, key: str) -> bytes | None:
        check_key("namespace", ns)
        check_key("key", key)
        value: bytes | None = self._call(self._db.get, _value_key(ns, key))
        return value

    def get_many(self, ns: str, keys: Sequence[str]) -> list[str | None]:
        check_key("namespace", ns)
        for key in keys:
            check_key("key", key)
        if not keys:
            return []
        return [v.decode() if v is not None else None for v in self.get_many_utf8(ns, keys)]

    def get_many_utf8(self, ns: str, keys: Sequence[str]) -> list[bytes | None]:
        """`get_many`, returning each value's UTF-8 bytes as stored (one MGET)."""
        check_key("namespace", ns)
        for key in keys:
            check_key("key", key)
        if not keys:
            return []
        values: list[bytes | None] = self._call(self._db.mget, [_value_key(ns, k) for k in keys])
        return values

    def set(self, ns: str, key: str, value: str | bytes) -> None:
        self.set_many(ns, [(key, value)])

    def set_many(self, ns: str, entries: Sequence[tuple[str, str | bytes]]) -> None:
        check_key("namespace", ns)
        for key, _ in entries:
            check_key("key", key)
        if not entries:
            return
        pipe = self._db.pipeline(transaction=True)
        pipe.mset({_value_key(ns, k): _text(v) for k, v in entries})
        pipe.zadd(_index_key(ns), {k: 0 for k, _ in entries})
        self._call(pipe.execute)

    def delete(self, ns: str, key: str) -> bool:
        return self.delete_many(ns, [key]) == 1

    def delete_many(self, ns: str, keys: Sequence[str]) -> int:
        check_key("namespace", ns)
        for key in keys:
            check_key("key", key)
        if not keys:
            return 0
        pipe = self._db.pipeline(transaction=True)
        for key in keys:
            pipe.delete(_value_key(ns, key))
        pipe.zrem(_index_key(ns), *keys)
        removed = self._call(pipe.execute)
        return int(sum(removed[:-1]))

    def exists(self, ns: str, key: str) -> bool:
        check_key("namespace", ns)
        check_key("key", key)
        return bool(self._call(self._db.exists, _value_key(ns, key)))

    def list_keys(self, ns: str, prefix: str, cursor: str | None, limit: int) -> tuple[list[str], str | None]:
        check_key("namespace", ns)
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise StorageFailure("invalid-key", f"limit must be 1..={MAX_LIST_LIMIT}, got {limit}")
        raw_prefix = prefix.encode()
        if cursor is not None and cursor >= prefix:
            low = b"(" + cursor.encode()
        elif not prefix:
            low = b"-"
        else:
            low = b"[" + raw_prefix
        high = b"+" if not prefix else b"[" + raw_prefix + b"\xff"
        found = self._call(self._db.zrangebylex, _index_key(ns), low, high, 0, limit + 1)
        keys = [k.decode() for k in found[:limit]]
        return keys, (keys[-1] if len(found) > limit else None)

    def compare_and_set(self, ns: str, key: str, expected: str | None, value: str | bytes) -> bool:
        check_key("namespace", ns)
        check_key("key", key)
        args: list[bytes | str] = [key, _text(value)]
        if expected is not None:
            args.append(expected.encode())
        return bool(self._call(self._cas, [_value_key(ns, key), _index_key(ns)], args))

    def commit(
        self,
        ns: str,
        guards: Sequence[tuple[str, str | None]],
        writes: Sequence[tuple[str, str | bytes | None]],
    ) -> bool:
        check_key("namespace", ns)
        for key, _ in [*guards, *writes]:
            check_key("key", key)
        keys = [_index_key(ns)]
        args: list[bytes | str | int] = [len(guards)]
        for key, expected in guards:
            keys.append(_value_key(ns, key))
            args += ["0" if expected is None else "1", b"" if expected is None else expected.encode()]
        for key, value in writes:
            keys.append(_value_key(ns, key))
            args += [key, "0" if value is None else "1", b"" if value is None else _text(value)]
        return bool(self._call(self._commit, keys, args))
