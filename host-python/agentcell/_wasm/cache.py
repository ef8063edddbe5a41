"""The precompiled-component cache.

Compiling the component takes tens of milliseconds (seconds for large ones);
deserializing a precompiled artifact takes well under one. Artifacts live in the user
cache dir (or `AGENTCELL_CACHE_DIR`), keyed by the wasmtime library, the component hash and
engine settings. Each file ends with the SHA-256 of its body, checked before use, so a
truncated or corrupt file is recompiled instead of loaded; an unwritable cache is
skipped. The cache never makes loading fail.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from wasmtime import Engine
from wasmtime.component import Component

from ._capi import ffi

ENGINE_SETTINGS = "epoch-interruption"
_DIGEST = 32


def cache_dir() -> Path:
    """Where artifacts go: `AGENTCELL_CACHE_DIR`, else the platform's user cache dir."""
    override = os.environ.get("AGENTCELL_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "agentcell"


def _runtime_identity() -> str:
    # The wasmtime shared library's path, size and mtime change with every wasmtime
    # install; cheaper at start-up than asking importlib.metadata for the version.
    st = os.stat(ffi.filename)
    return f"{ffi.filename}:{st.st_size}:{st.st_mtime_ns}"


def artifact_path(wasm: bytes, directory: Path | None = None) -> Path:
    key = hashlib.sha256()
    for part in (_runtime_identity(), ENGINE_SETTINGS):
        key.update(part.encode() + b"\0")
    key.update(hashlib.sha256(wasm).digest())
    return (directory or cache_dir()) / f"component-{key.hexdigest()[:32]}.cwasm"


def _load_cached(engine: Engine, path: Path) -> Component | None:
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    body, digest = blob[:-_DIGEST], blob[-_DIGEST:]
    if len(blob) <= _DIGEST or hashlib.sha256(body).digest() != digest:
        return None
    try:
        return Component.deserialize(engine, body)
    except Exception:  # a stale or foreign artifact: recompile
        return None


STALE_SECONDS = 30 * 24 * 3600


def _prune(directory: Path, keep: Path) -> None:
    # Artifacts of other wasmtime or component versions not used for 30 days, then the
    # least recently used others until the cache fits `configure_ffi`'s cache_size_mb.
    import time

    from .._settings import current

    others: list[tuple[float, int, Path]] = []
    for old in directory.glob("component-*.cwasm"):
        try:
            st = old.stat()
            if old != keep and time.time() - st.st_atime > STALE_SECONDS:
                old.unlink()
            elif old != keep:
                others.append((st.st_atime, st.st_size, old))
        except OSError:
            pass
    try:
        total = keep.stat().st_size + sum(size for _, size, _ in others)
    except OSError:
        return
    budget = current().cache_size_mb * 1024 * 1024
    for _, size, old in sorted(others):
        if total <= budget:
            break
        try:
            old.unlink()
            total -= size
        except OSError:
            pass


def _store(path: Path, component: Component) -> None:
    import tempfile

    try:
        body = bytes(component.serialize())
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".cwasm")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(body + hashlib.sha256(body).digest())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        _prune(path.parent, path)
    except OSError:
        pass  # read-only or full cache dir: we simply compile next time


def load_component(engine: Engine, wasm: bytes, *, use_cache: bool = True) -> tuple[Component, bool]:
    """The component for `wasm`, and whether it came from the cache."""
    from .._settings import current

    path = artifact_path(wasm)
    use_cache = use_cache and current().cache_size_mb > 0
    if use_cache:
        cached = _load_cached(engine, path)
        if cached is not None:
            return cached, True
    component = Component(engine, wasm)
    if use_cache:
        _store(path, component)
    return component, False
