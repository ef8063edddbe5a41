"""The rules every storage backend keeps, in every host: a namespace and a key are
non-empty and at most 1024 bytes of UTF-8; `list-keys` takes a limit of 1..=1000."""

from __future__ import annotations

__all__ = ["MAX_KEY_BYTES", "MAX_LIST_LIMIT", "StorageFailure", "check_key"]

MAX_KEY_BYTES = 1024
MAX_LIST_LIMIT = 1000


class StorageFailure(Exception):
    """A storage call failed; `kind` is the WIT `storage-error` case."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def check_key(what: str, key: str) -> None:
    """Raises `StorageFailure("invalid-key")` when `key` breaks the key rules."""
    if not key:
        raise StorageFailure("invalid-key", f"{what} must not be empty")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise StorageFailure("invalid-key", f"{what} must be at most {MAX_KEY_BYTES} bytes")
