"""The one place that runs the component: engine, precompiled cache, linker, host
imports, the call path, locking and recovery after a trap."""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import threading
import time
from ctypes import byref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import wasmtime
from wasmtime.component import Component, Linker

from .. import _settings
from .._twins import async_twin
from .._wit import WIT_NAMESPACE, WIT_VERSION
from ..bus import Bus
from ..errors import (
    AgentcellError,
    ComponentLoadError,
    ComponentTrap,
    ResourceLimitError,
    error_from_wit,
)
from ..http import HttpPolicy
from ..storage import PostgresStorage, RedisStorage, SQLiteStorage, StorageBackend
from . import cache
from ._capi import error_from_ptr, ffi, func_ptr, store_context
from .host_imports import (
    _HOST_ERROR,
    _UTF8_STORAGE_IMPORTS,
    _define,
    _http_imports,
    _storage_imports,
    _transport_imports,
    bus_for,
)
from .limits import NO_DEADLINE, Limits, deadline_ticks, limit_hit, start_ticker
from .values import HEX, TEXT, UTF8, Err, Lower, Ok, Resource, Val, lifter, lowerer, val_delete

_LOG = logging.getLogger("agentcell")

if TYPE_CHECKING:
    from .._wit import Exports

DEFAULT_WASM = Path(__file__).resolve().parent.parent / "agentcell.wasm"


def interface_name(interface: str) -> str:
    """`meta` -> `agentcell:core/meta@0.1.0`."""
    return f"{WIT_NAMESPACE}/{interface}@{WIT_VERSION}"


def default_storage_path() -> Path:
    """`AGENTCELL_STORAGE`, else `agentcell.db` in the user data dir."""
    override = os.environ.get("AGENTCELL_STORAGE")
    if override:
        return Path(override)
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "agentcell" / "agentcell.db"


@dataclass(frozen=True)
class LoadedComponent:
    """A compiled component shared by every runtime of the process."""

    engine: wasmtime.Engine
    component: Component
    path: Path
    sha256: str
    from_cache: bool
    load_seconds: float


_LOADED: dict[tuple[Path, bool], LoadedComponent] = {}
_LOAD_LOCK = threading.Lock()


def _engine() -> wasmtime.Engine:
    """The engine: epoch interruption on, so a call can be given a deadline (see
    `limits`). `AGENTCELL_PERFMAP=1` names the component's compiled functions for `perf`
    (as in the Rust host)."""
    config = wasmtime.Config()
    config.epoch_interruption = True
    if os.environ.get("AGENTCELL_PERFMAP"):
        config.profiler = "perfmap"
    return wasmtime.Engine(config)


def load_component(path: Path | None = None, *, use_cache: bool = True) -> LoadedComponent:
    """Compiles (or takes from the on-disk cache) the component at `path`, once per process.
    Without `path`: `$AGENTCELL_WASM` when set (the test suite points it at the test
    build, `target/agentcell-test.wasm`), else the component shipped in the package."""
    env = os.environ.get("AGENTCELL_WASM")
    path = (path or (Path(env) if env else DEFAULT_WASM)).resolve()
    with _LOAD_LOCK:
        loaded = _LOADED.get((path, use_cache))
        if loaded is not None:
            return loaded
        started = time.perf_counter()
        try:
            wasm = path.read_bytes()
        except OSError as e:
            raise ComponentLoadError(
                f"cannot read the agentcell component at {path}: {e.strerror or e}", field="wasm"
            ) from e
        engine = _engine()
        try:
            component, from_cache = cache.load_component(engine, wasm, use_cache=use_cache)
        except wasmtime.WasmtimeError as e:
            first_line = str(e).splitlines()[0] if str(e) else "invalid component"
            raise ComponentLoadError(
                f"{path} is not a valid WebAssembly component: {first_line}", field="wasm"
            ) from e
        loaded = LoadedComponent(
            engine,
            component,
            path,
            hashlib.sha256(wasm).hexdigest(),
            from_cache,
            time.perf_counter() - started,
        )
        _LOADED[(path, use_cache)] = loaded
        return loaded


# --- the runtime --------------------------------------------------------------------


# A private prototype of the call, taking raw addresses: no per-call argument
# conversion by ctypes, and wasmtime-py's own prototype is left alone.
# No argtypes: every argument is passed as a ready-made ctypes object (built once per
# export), which skips ctypes' per-call argument conversion.
_func_call = ffi.dll["wasmtime_component_func_call"]
_func_call.restype = ctypes.c_void_p
_set_deadline = ffi.dll["wasmtime_context_set_epoch_deadline"]
_set_deadline.restype = None
_ERROR_PTR = ctypes.POINTER(ffi.wasmtime_error_t)


def _panic_message(stderr: str) -> str:
    """`thread '<unnamed>' (1) panicked at src/x.rs:1:2:\nboom\nnote: ...` -> `boom (at src/x.rs:1:2)`."""
    lines = [ln for ln in stderr.strip().splitlines() if not ln.startswith(("note:", "stack backtrace:"))]
    if lines and " panicked at " in lines[0]:
        location = lines[0].split(" panicked at ", 1)[1].rstrip(":")
        message = " ".join(ln.strip() for ln in lines[1:]) or "panic"
        return f"{message} (at {location})"
    return " ".join(ln.strip() for ln in lines)


class _Export:
    """An exported function bound to one instance: lowerers, argument and result slots
    and addresses computed once, so a call is one FFI call plus the values' own work."""

    __slots__ = ("args", "func", "lift_hex", "lift_text", "lowerers", "name", "nparams", "params", "result")

    def __init__(
        self, func: Any, lowerers: list[Lower], result_ty: Any, name: str, context: int, instance: object
    ) -> None:
        self.func = func  # keeps the wasmtime_component_func_t alive
        self.lowerers = lowerers
        has_result = result_ty is not None
        # The result's readers, built from its type once: strings as text, or as blobs.
        self.lift_text = lifter(result_ty, TEXT, instance) if has_result else None
        self.lift_hex = lifter(result_ty, HEX, instance) if has_result else None
        self.nparams = len(lowerers)
        self.params = (Val * self.nparams)()
        result = Val() if has_result else None
        self.result = result
        vp = ctypes.c_void_p
        self.args = (
            vp(ctypes.addressof(func)),
            vp(context),
            vp(ctypes.addressof(self.params) if self.nparams else None),
            ctypes.c_size_t(self.nparams),
            vp(ctypes.addressof(result) if result is not None else None),
            ctypes.c_size_t(1 if result is not None else 0),
        )
        self.name = name


class BoundExport:
    """A callable handle on one export of a `Runtime`; survives instance replacement."""

    __slots__ = ("_key", "_rt")

    def __init__(self, rt: Runtime, interface: str, name: str) -> None:
        self._rt = rt
        self._key = (interface, name)

    def __call__(self, *args: Any) -> Any:
        return self._rt.call(*self._key, *args)


class Runtime:
    """One instance of the component with its host imports.

    Calls are serialised by a lock (a component instance runs one call at a time), so a
    runtime may be shared by threads. After a trap the instance is replaced on the next
    call; storage lives in the host, so nothing persisted is lost.
    """

    def __init__(
        self,
        storage: str | Path | StorageBackend | None = None,
        http: HttpPolicy | None = None,
        *,
        bus: Bus | None = None,
        wasm: str | Path | None = None,
        use_cache: bool = True,
        limits: Limits | None = None,
    ) -> None:
        self._bus = bus
        self.loaded = load_component(Path(wasm) if wasm is not None else None, use_cache=use_cache)
        self.http = http or HttpPolicy()
        self._storage: StorageBackend | None = None
        self._owns_storage = not isinstance(storage, (SQLiteStorage, RedisStorage, PostgresStorage))
        if isinstance(storage, (SQLiteStorage, RedisStorage, PostgresStorage)):
            self._storage = storage
        elif storage is not None:
            self._storage = SQLiteStorage(storage)  # fail now, naming the path
        self._lock = threading.RLock()
        settings = _settings.current()
        self._limits = limits or Limits(settings.memory_limit_mb, settings.call_timeout_ms)
        self._deadline: ctypes.c_uint64 | None = None
        self._apply_deadline()
        self._stderr = bytearray()
        self._linker = self._make_linker()
        self._store: wasmtime.Store | None = None
        self._instance: Any = None
        self._context: Any = None
        self._context_addr: int | None = None
        self._exports: dict[tuple[str, str], _Export] = {}
        self.instantiations = 0
        self._facade: Exports | None = None
        self._closed = False
        self._instantiate()

    @property
    def exports(self) -> Exports:
        """The component's exports as typed methods generated from the WIT
        (`rt.exports.memory.store_count(store)`); each one is a `call` or `call_ok`."""
        if self._facade is None:
            from .._wit import Exports

            self._facade = Exports(self)
        return self._facade

    def close(self) -> None:
        """Drops the instance and closes the storage this runtime opened. Later calls
        raise `AgentcellError`; closing twice is harmless."""
        with self._lock:
            self._closed = True
            self._exports.clear()
            self._instance = self._store = self._context = None
            if self._storage is not None and self._owns_storage:
                self._storage.close()

    @property
    def lock(self) -> threading.RLock:
        """The lock that serialises calls; hold it to make several calls in a row with
        no other thread in between (it is re-entrant)."""
        return self._lock

    @property
    def storage(self) -> StorageBackend:
        """The storage backend; the default SQLite file is opened on first use."""
        if self._storage is None:
            self._storage = SQLiteStorage(default_storage_path())
        return self._storage

    @property
    def bus(self) -> Bus:
        """The bus behind the `transport` import: the one given, else the one that goes
        with the storage (`bus_for`), opened on first use."""
        if self._bus is None:
            self._bus = bus_for(self.storage)
        return self._bus

    def _interface_name(self, interface: str) -> str:
        """The full WIT name of one of the component's interfaces."""
        return interface_name(interface)

    def _make_linker(self) -> Linker:
        linker = Linker(self.loaded.engine)
        linker.add_wasip2()
        with linker.root() as root:
            with root.add_instance(interface_name("storage")) as inst:
                for name, handler in _storage_imports(lambda: self.storage).items():
                    _define(inst, name, handler, UTF8 if name in _UTF8_STORAGE_IMPORTS else TEXT)
            with root.add_instance(interface_name("http-client")) as inst:
                for name, handler in _http_imports(self.http).items():
                    _define(inst, name, handler)
            with root.add_instance(interface_name("transport")) as inst:
                for name, handler in _transport_imports(lambda: self.bus).items():
                    _define(inst, name, handler)
        return linker

    def _capture_stderr(self, data: bytes) -> None:
        self._stderr += data
        del self._stderr[:-4096]

    @property
    def limits(self) -> Limits:
        """The memory cap and call deadline in force (see `set_limits`)."""
        return self._limits

    def set_limits(self, limits: Limits) -> None:
        """Puts `limits` in force from the next call; instances made after a trap have
        them too."""
        with self._lock:
            self._limits = limits
            self._apply_deadline()
            if self._store is not None:
                memory = limits.memory_bytes
                self._store.set_limits(memory_size=memory if memory is not None else -1)
                self._store.set_epoch_deadline(NO_DEADLINE)

    def set_memory_limit(self, megabytes: int | None) -> None:
        """Caps the instance's linear memory in MiB (None: no cap beyond wasm's)."""
        self.set_limits(Limits(megabytes, self._limits.call_timeout_ms))

    def _apply_deadline(self) -> None:
        timeout = self._limits.call_timeout_ms
        self._deadline = None if timeout is None else ctypes.c_uint64(deadline_ticks(timeout))
        if timeout is not None:
            start_ticker(self.loaded.engine)

    def _instantiate(self) -> None:
        store = wasmtime.Store(self.loaded.engine)
        if self._limits.memory_bytes is not None:
            store.set_limits(memory_size=self._limits.memory_bytes)
        store.set_epoch_deadline(NO_DEADLINE)
        wasi = wasmtime.WasiConfig()
        wasi.stderr_custom = self._capture_stderr
        store.set_wasi(wasi)
        self._instance = self._linker.instantiate(store, self.loaded.component)
        self._store = store
        self._context = store_context(store)
        self._context_addr = ctypes.cast(self._context, ctypes.c_void_p).value
        self._exports.clear()
        self.instantiations += 1
        _LOG.debug("component instance %d made (runtime %#x)", self.instantiations, id(self))

    def _bind(self, interface: str, name: str) -> _Export:
        if self._closed:
            raise AgentcellError(f"this runtime is closed; {interface}.{name} cannot be called")
        assert self._store is not None
        iface = self._instance.get_export_index(self._store, self._interface_name(interface))
        index = iface and self._instance.get_export_index(self._store, name, iface)
        if not index:
            raise AttributeError(f"the component exports no {interface}.{name}")
        func = self._instance.get_func(self._store, index)
        fty = func.type(self._store)
        assert self._context_addr is not None
        export = _Export(
            func_ptr(func),
            [lowerer(t, self._store) for _, t in fty.params],
            fty.result,
            f"{interface}.{name}",
            self._context_addr,
            self._store,
        )
        self._exports[(interface, name)] = export
        return export

    def drop(self, resource: Resource) -> None:
        """Ends `resource` (a WIT `own<R>` this runtime returned), running the
        component's destructor; a resource of an instance that is gone (replaced after
        a trap) is only freed. Dropping twice is harmless."""
        with self._lock:
            ptr = resource.take()
            if ptr is None:
                return
            try:
                if resource.instance is self._store and self._context is not None:
                    err = ffi.wasmtime_component_resource_any_drop(self._context, ptr)
                    if err:
                        raise self._trapped("resource drop", error_from_ptr(err))
            finally:
                ffi.wasmtime_component_resource_any_delete(ptr)

    def export(self, interface: str, name: str) -> BoundExport:
        """A reusable callable for export `interface.name` (fails now if there is none)."""
        with self._lock:
            self._exports.get((interface, name)) or self._bind(interface, name)
        return BoundExport(self, interface, name)

    def call_blob(self, interface: str, name: str, *args: Any) -> Any:
        """Like `call`, for a function whose result carries hex blobs: each string in
        the result (the `ok` side of a `result`) comes back as the bytes it encodes,
        decoded straight from wasmtime's buffer."""
        return self.call(interface, name, *args, blobs=True)

    def call(self, interface: str, name: str, *args: Any, blobs: bool = False) -> Any:
        """Calls export `interface.name`; returns the lifted result (`Ok`/`Err` for a
        WIT `result`). Raises `ComponentTrap` if the component traps."""
        with self._lock:
            export = self._exports.get((interface, name)) or self._bind(interface, name)
            n = export.nparams
            if len(args) != n:
                raise TypeError(f"{export.name} takes {n} arguments, got {len(args)}")
            params = export.params
            try:
                for i in range(n):
                    export.lowerers[i](params[i], args[i])
                if self._stderr:
                    self._stderr.clear()
                if self._deadline is not None:
                    _set_deadline(export.args[1], self._deadline)
                err = _func_call(*export.args)
            finally:
                for i in range(n):
                    val_delete(byref(params[i]))
                    params[i].kind = 0
            if err:
                error = error_from_ptr(ctypes.cast(err, _ERROR_PTR))
                raise self._trapped(export.name, error)
            result = export.result
            if result is None:
                return None
            try:
                return (export.lift_hex if blobs else export.lift_text)(result)  # type: ignore[misc]
            finally:
                val_delete(byref(result))
                result.kind = 0

    def call_ok(self, interface: str, name: str, *args: Any) -> Any:
        """Like `call`, for a function returning `result<T, error>`: returns T or raises
        the matching `AgentcellError`."""
        out = self.call(interface, name, *args)
        if isinstance(out, Err):
            raise error_from_wit(out.value)
        return out.value if isinstance(out, Ok) else out

    call_async = async_twin(call)
    call_ok_async = async_twin(call_ok)

    def _trapped(self, name: str, error: wasmtime.WasmtimeError) -> ComponentTrap:
        host_exc = getattr(_HOST_ERROR, "exc", None)
        _HOST_ERROR.exc = None
        panic = _panic_message(bytes(self._stderr).decode(errors="replace"))
        reason = str(error).splitlines()
        fallback = reason[-1] if reason else "wasm trap"
        detail = panic or next((ln.strip() for ln in reversed(reason) if "trap" in ln), fallback)
        self._instantiate()  # a trapped instance cannot be entered again
        hit = limit_hit(self._limits, str(error), bytes(self._stderr).decode(errors="replace"))
        trap: ComponentTrap
        if hit == "time":
            trap = ResourceLimitError(
                f"{name} ran past its time limit of {self._limits.call_timeout_ms} ms and was stopped",
                limit="time",
            )
        elif hit == "memory":
            cap = f"{self._limits.memory_mb} MiB" if self._limits.memory_mb else "4 GiB (wasm's own)"
            trap = ResourceLimitError(
                f"{name} needed more memory than its cap of {cap} ({detail})", limit="memory"
            )
        else:
            trap = ComponentTrap(f"the component trapped in {name}: {detail}")
        _LOG.warning("%s; the instance is replaced on the next call", trap)
        trap.__cause__ = host_exc or error
        return trap
