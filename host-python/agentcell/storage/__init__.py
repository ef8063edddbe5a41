"""Backends of the component's `storage` import, one module each (today: `sqlite`,
the embedded default, a file or `":memory:"`), and the key rules they share."""

from __future__ import annotations

from ._rules import MAX_KEY_BYTES, MAX_LIST_LIMIT, StorageFailure, check_key
from .sqlite import SQLiteStorage

__all__ = ["MAX_KEY_BYTES", "MAX_LIST_LIMIT", "SQLiteStorage", "StorageFailure", "check_key"]
