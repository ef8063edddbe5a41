"""Tuning of glibc's allocator for bulk transfers.

Moving data across the boundary allocates buffers (the hex text, wasmtime's copies, the
results) that are freed when the call returns. glibc gives big buffers a fresh `mmap`
and returns the top of its heap to the OS as soon as more than ~128 KiB of it is free,
so the next call pays page faults for the same bytes again; on a VM each fault costs
several microseconds, more than copying the page. Two settings:

* `tune_allocator()` (opt-in, strong): buffers up to 64 MiB from the heap, up to
  256 MiB of freed heap kept. For multi-megabyte single transfers.
* `keep_heap_warm()` (what `agentcell.memory.HTMCore` does once per process, mild and
  bounded): buffers under 1 MiB from the heap (HTMCore moves 256 KiB pieces), and
  64 MiB of slack kept at the heap top. Measured on a 100,000 x 768 insert: 342k page
  faults -> 149k, 2.9 s -> 1.9 s. `AGENTCELL_TUNE_ALLOCATOR=0` turns it off.

Both are process-wide; neither applies where the C library is not glibc.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

__all__ = ["keep_heap_warm", "tune_allocator"]

_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3

_lock = threading.Lock()
_tuned = False  # tune_allocator() or keep_heap_warm() has run


def _mallopt() -> Any | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes.util  # imports subprocess: ~10 ms, so only when needed

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


def _apply(settings: list[tuple[int, int]]) -> bool:
    global _tuned
    mallopt = _mallopt()
    if mallopt is None:
        return False
    ok = all(bool(mallopt(param, value)) for param, value in settings)
    _tuned = True
    return ok


def tune_allocator(mmap_threshold: int = 64 << 20, trim_threshold: int = 256 << 20) -> bool:
    """Keeps buffers up to `mmap_threshold` bytes on the heap and returns freed heap
    memory to the OS only past `trim_threshold`. Returns False where the C library is
    not glibc (nothing is changed there)."""
    with _lock:
        return _apply([(_M_MMAP_THRESHOLD, mmap_threshold), (_M_TRIM_THRESHOLD, trim_threshold)])


def keep_heap_warm() -> bool:
    """The mild setting (see the module comment), once per process; a no-op after
    `tune_allocator()` or with `AGENTCELL_TUNE_ALLOCATOR=0`. True when it is in effect."""
    with _lock:
        if _tuned:
            return True
        if os.environ.get("AGENTCELL_TUNE_ALLOCATOR", "1") == "0":
            return False
        return _apply([(_M_MMAP_THRESHOLD, 1 << 20), (_M_TOP_PAD, 64 << 20)])
