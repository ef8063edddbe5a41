"""The process-wide default runtime, created on first use."""

from __future__ import annotations

import threading

from ._wasm import Runtime

_default: Runtime | None = None
_lock = threading.Lock()


def runtime() -> Runtime:
    """The shared runtime: embedded SQLite storage, HTTP denied to every destination."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = Runtime()
    return _default


def set_runtime(rt: Runtime) -> None:
    """Makes `rt` the runtime that module-level functions use."""
    global _default
    with _lock:
        _default = rt
