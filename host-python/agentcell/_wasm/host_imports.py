"""The component's host imports: how a Python function becomes a component import
(registered with wasmtime's C API directly), and the handlers of the core's `storage`,
`http-client` and `transport` imports."""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from ctypes import byref
from dataclasses import dataclass, field
from typing import Any

import wasmtime

from ..bus import Bus, MemoryBus, RedisBus, SQLiteBus
from ..errors import StorageError, TransportError
from ..http import HttpFailure, HttpPolicy
from ..storage import PostgresStorage, RedisStorage, StorageBackend, StorageFailure
from ._capi import consume_error, error_from_ptr, ffi, functype_from_ptr
from .values import TEXT, Err, Lift, Lower, Ok, lifter, lowerer, val_delete

# --- host functions -------------------------------------------------------------------
#
# Host functions are registered with wasmtime's C API directly: arguments are lifted
# with `values.lift` and results lowered with a lowerer built once per function, which
# is far cheaper than wasmtime-py's per-call type walk. A handler reports expected
# failures as `Err(...)`; anything else it raises is a host bug and traps the guest.

HostHandler = Callable[..., Any]


@dataclass
class _HostFunc:
    handler: HostHandler
    lower_result: Lower | None = None
    has_result: bool = False
    typed: bool = False
    strings: int = TEXT  # how string arguments are lifted (see `values.lift`)
    lift_params: list[Lift] = field(default_factory=list)  # built from the type on first call


_HOST_FUNCS: dict[int, _HostFunc] = {}
_HOST_IDS = iter(range(1, 2**62))
_HOST_LOCK = threading.Lock()
_HOST_ERROR = threading.local()


def _host_trampoline(
    env: int | None,
    _context: Any,
    ty_raw: Any,
    args: Any,
    nargs: int,
    results: Any,
    _nresults: int,
) -> int:
    try:
        host = _HOST_FUNCS[env or 0]
        if not host.typed:
            fty = functype_from_ptr(ty_raw)
            host.lift_params = [lifter(pty, host.strings) for _, pty in fty.params]
            result_ty = fty.result
            host.has_result = result_ty is not None
            host.lower_result = lowerer(result_ty) if result_ty is not None else None
            host.typed = True
        pyargs = []
        for i in range(nargs):
            pyargs.append(host.lift_params[i](args[i]))
            val_delete(byref(args[i]))
            args[i].kind = 0  # now an owned-nothing bool, whoever frees it next
        out = host.handler(*pyargs)
        if host.lower_result is not None:
            host.lower_result(results[0], out)
        return 0
    except BaseException as e:
        _HOST_ERROR.exc = e
        err = wasmtime.WasmtimeError(f"host function failed: {type(e).__name__}: {e}")
        return consume_error(err)


_TRAMPOLINE = ffi.wasmtime_component_func_callback_t(_host_trampoline)


def _host_finalize_impl(env: int | None) -> None:
    funcs = _HOST_FUNCS  # None once the interpreter tears the module down at exit
    if funcs is not None:
        funcs.pop(env or 0, None)


_host_finalize = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(_host_finalize_impl)


def _define(linker_instance: Any, name: str, handler: HostHandler, strings: int = TEXT) -> None:
    with _HOST_LOCK:
        idx = next(_HOST_IDS)
        _HOST_FUNCS[idx] = _HostFunc(handler, strings=strings)
    raw = name.encode()
    err = ffi.wasmtime_component_linker_instance_add_func(
        linker_instance.ptr(), ctypes.create_string_buffer(raw), len(raw), _TRAMPOLINE, idx, _host_finalize
    )
    if err:
        raise error_from_ptr(err)


def _storage_call(fn: Callable[..., Any]) -> HostHandler:
    def handler(*args: Any) -> Any:
        try:
            return Ok(fn(*args))
        except StorageFailure as e:
            return Err((e.kind, e.message))
        except StorageError as e:
            return Err(("unavailable", e.message))

    return handler


# Storage imports whose string arguments arrive as UTF-8 `bytes`: values (up to
# megabytes: embedding segments) go to SQLite and back without a decode and re-encode.
_UTF8_STORAGE_IMPORTS = frozenset({"get", "set", "get-many", "set-many"})


def _storage_imports(get_storage: Callable[[], StorageBackend]) -> dict[str, HostHandler]:
    def list_keys(ns: str, prefix: str, cursor: str | None, limit: int) -> dict[str, Any]:
        keys, next_cursor = get_storage().list_keys(ns, prefix, cursor, limit)
        return {"keys": keys, "cursor": next_cursor}

    def get(ns: bytes, key: bytes) -> bytes | None:
        return get_storage().get_utf8(ns.decode(), key.decode())

    def get_many(ns: bytes, keys: list[bytes]) -> list[bytes | str | None]:
        storage, names = get_storage(), [k.decode() for k in keys]
        # One round trip for all keys; as bytes where the backend can (no re-encode).
        raw = getattr(storage, "get_many_utf8", None)
        if raw is not None:
            values: list[bytes | str | None] = raw(ns.decode(), names)
            return values
        return list(storage.get_many(ns.decode(), names))

    def set_many(ns: bytes, entries: list[tuple[bytes, bytes]]) -> None:
        get_storage().set_many(ns.decode(), [(k.decode(), v) for k, v in entries])

    return {
        "get": _storage_call(get),
        "set": _storage_call(lambda ns, k, v: set_many(ns, [(k, v)])),
        "delete": _storage_call(lambda ns, k: get_storage().delete(ns, k)),
        "exists": _storage_call(lambda ns, k: get_storage().exists(ns, k)),
        "list-keys": _storage_call(list_keys),
        "get-many": _storage_call(get_many),
        "set-many": _storage_call(set_many),
        "delete-many": _storage_call(lambda ns, ks: get_storage().delete_many(ns, ks)),
        "compare-and-set": _storage_call(
            lambda ns, k, expected, v: get_storage().compare_and_set(ns, k, expected, v)
        ),
        "commit": _storage_call(lambda ns, guards, writes: get_storage().commit(ns, guards, writes)),
    }


def send_request(policy: HttpPolicy, req: dict[str, Any]) -> Ok | Err:
    """Sends a WIT `http-client.request` through `policy`; the answer as the WIT
    `result<response, http-error>`. The `http-client` import and the Attuned clients
    both send through here."""
    try:
        r = policy.send(
            req["method"], req["url"], [tuple(h) for h in req["headers"]], req["body"], req["timeout_ms"]
        )
    except HttpFailure as e:
        return Err((e.kind, e.message))
    return Ok({"status": r.status, "headers": r.headers, "body": r.body, "body_encoding": r.body_encoding})


def _transport_imports(get_bus: Callable[[], Bus]) -> dict[str, HostHandler]:
    def publish(topic: str, envelope: str) -> Any:
        try:
            get_bus().publish(topic, envelope)
            return Ok(None)
        except TransportError as e:
            return Err(e.message)

    return {"publish": publish}


def bus_for(storage: StorageBackend) -> Bus:
    """The bus that goes with `storage`: a SQLite file's log, a Redis server's streams,
    in process for a SQLite database in memory (and for PostgreSQL, which has no bus
    backend yet: give `bus=` a Redis or SQLite bus to reach other processes)."""
    if isinstance(storage, RedisStorage):
        return RedisBus(storage.url)
    if isinstance(storage, PostgresStorage) or storage.path == ":memory:":
        return MemoryBus()
    return SQLiteBus(storage.path)


def _http_imports(policy: HttpPolicy) -> dict[str, HostHandler]:
    return {"send": lambda req: send_request(policy, req)}
