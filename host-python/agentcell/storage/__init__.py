"""Backends of the component's `storage` import, one module each: `sqlite` (the
embedded default, a file or `":memory:"`), `redis` (a server shared by processes on
several machines, laid out as the Rust host lays it out), `postgres` (a PostgreSQL
server, psycopg 3), and the key rules they share."""

from __future__ import annotations

from ._rules import MAX_KEY_BYTES, MAX_LIST_LIMIT, StorageFailure, check_key
from .postgres import PostgresStorage
from .redis import RedisStorage
from .sqlite import SQLiteStorage

#: What a runtime's storage import can be backed by.
StorageBackend = SQLiteStorage | RedisStorage | PostgresStorage

__all__ = [
    "MAX_KEY_BYTES",
    "MAX_LIST_LIMIT",
    "PostgresStorage",
    "RedisStorage",
    "SQLiteStorage",
    "StorageBackend",
    "StorageFailure",
    "check_key",
]
