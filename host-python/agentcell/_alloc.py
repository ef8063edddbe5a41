"""Opt-in tuning of glibc's allocator for bulk transfers.

Moving a megabyte across the boundary allocates several multi-megabyte buffers (the hex
text, wasmtime's copy, the result). glibc serves each from a fresh `mmap` and returns it
on free, so every call pays page faults for every buffer: that, not copying, dominates
bulk calls (measured: ~3x). Raising the mmap and trim thresholds lets those buffers be
reused. It is process-wide (freed memory stays with the process until it is reused),
so agentcell never does it unasked.
"""

from __future__ import annotations

import sys

__all__ = ["tune_allocator"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def tune_allocator(mmap_threshold: int = 64 << 20, trim_threshold: int = 256 << 20) -> bool:
    """Keeps buffers up to `mmap_threshold` bytes on the heap and returns freed heap
    memory to the OS only past `trim_threshold`. Returns False where the C library is
    not glibc (nothing is changed there)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes.util  # imports subprocess: ~10 ms, so only when asked

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        mallopt(_M_TRIM_THRESHOLD, trim_threshold)
    )
