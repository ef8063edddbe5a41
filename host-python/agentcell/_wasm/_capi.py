"""The one place that reaches into wasmtime-py's private parts.

The fast call path (see `runtime.py`, `values.py`) calls wasmtime's C API through the
ctypes bindings wasmtime-py ships (`wasmtime._ffi`), reads component value types from
`wasmtime.component._types`, and takes raw pointers out of a few wasmtime-py objects.
None of that is public API, so it is fenced in here: this module checks, at import, that
the installed wasmtime-py is a version this was written and tested against and that
every private name used is there, and fails with one clear message otherwise.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime.component import FuncType
from wasmtime.component import _types as wt

from ..errors import ComponentLoadError

__all__ = [
    "SUPPORTED_MAJOR",
    "consume_error",
    "error_from_ptr",
    "ffi",
    "func_ptr",
    "functype_from_ptr",
    "store_context",
    "wt",
]

# The wasmtime-py major versions whose private layout this module was checked against
# (the package pins the same range: `wasmtime>=50.0.1,<51`).
SUPPORTED_MAJOR = (50,)

_PRIVATE = (
    (ffi, "wasmtime_component_func_call"),
    (ffi, "wasmtime_component_val_delete"),
    (ffi, "wasmtime_component_linker_instance_add_func"),
    (wt, "valtype_from_ptr"),
    (FuncType, "_from_ptr"),
    (wasmtime.WasmtimeError, "_from_ptr"),
    (wasmtime.WasmtimeError, "_consume"),
    (wasmtime.Store, "_context"),
)


def _check() -> None:
    try:
        version = importlib.metadata.version("wasmtime")
    except importlib.metadata.PackageNotFoundError:  # e.g. a vendored copy
        version = "unknown"
    major = version.split(".", 1)[0]
    if version != "unknown" and (not major.isdigit() or int(major) not in SUPPORTED_MAJOR):
        raise ComponentLoadError(
            f"agentcell needs wasmtime-py {' or '.join(f'{m}.x' for m in SUPPORTED_MAJOR)}, "
            f"found {version}: install agentcell's pinned range (`pip install 'wasmtime>=50.0.1,<51'`)"
        )
    missing = [f"{getattr(o, '__name__', o)}.{n}" for o, n in _PRIVATE if not hasattr(o, n)]
    if missing:
        raise ComponentLoadError(
            f"wasmtime-py {version} lacks what agentcell's call path uses: {', '.join(missing)}"
        )


_check()


def functype_from_ptr(ptr: Any) -> FuncType:
    """A `FuncType` over a raw `wasmtime_component_func_type_t *` (owned elsewhere)."""
    return FuncType._from_ptr(ptr, owner=object())


def error_from_ptr(ptr: Any) -> wasmtime.WasmtimeError:
    """The `WasmtimeError` owning a raw `wasmtime_error_t *`."""
    return wasmtime.WasmtimeError._from_ptr(ptr)


def consume_error(err: wasmtime.WasmtimeError) -> int:
    """The raw `wasmtime_error_t *` of `err`, ownership handed to the caller (0: none)."""
    return ctypes.cast(err._consume(), ctypes.c_void_p).value or 0


def func_ptr(func: Any) -> Any:
    """The raw `wasmtime_component_func_t` of a wasmtime-py component `Func`."""
    return func._func


def store_context(store: wasmtime.Store) -> Any:
    """The raw `wasmtime_context_t *` of `store`."""
    return store._context()
