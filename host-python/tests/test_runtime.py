"""The runtime: loading, the precompiled cache, threads, traps."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import agentcell
from agentcell._wasm import cache, load_component
from agentcell._wasm.runtime import DEFAULT_WASM
from agentcell._wit import MemoryStoreOptions


def test_missing_wasm_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.wasm"
    with pytest.raises(agentcell.ComponentLoadError, match=re.escape(str(missing))):
        agentcell.Runtime(":memory:", wasm=missing)


def test_corrupt_wasm_names_the_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(b"\0asm\x0d\0\x01\0garbage")
    with pytest.raises(agentcell.ComponentLoadError, match=r"bad\.wasm"):
        agentcell.Runtime(":memory:", wasm=bad, use_cache=False)


def test_trap_raises_clearly_and_runtime_recovers(rt: agentcell.Runtime) -> None:
    assert agentcell.counter_add("kept", 5, rt) == 5
    with pytest.raises(agentcell.ComponentTrap, match="deliberate trap: boom"):
        rt.call("testing", "trap", "boom")
    assert agentcell.health_check(rt) is True
    assert agentcell.counter_get("kept", rt) == 5
    assert rt.instantiations == 2


def test_bad_argument_types_are_python_errors_and_leave_the_runtime_usable(rt: agentcell.Runtime) -> None:
    with pytest.raises(TypeError):
        rt.call("diagnostics", "counter-add", 7, 1)
    with pytest.raises(OverflowError):
        rt.call("diagnostics", "counter-add", "x", 2**63)
    with pytest.raises(TypeError, match="takes 2 arguments"):
        rt.call("diagnostics", "counter-add", "x")
    with pytest.raises(AttributeError):
        rt.call("diagnostics", "nope")
    assert agentcell.counter_add("x", 1, rt) == 1


def test_threads_are_serialised_correctly(rt: agentcell.Runtime) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(200):
                agentcell.counter_add("shared", 1, rt)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert agentcell.counter_get("shared", rt) == 1600


def test_bound_export_survives_instance_replacement(rt: agentcell.Runtime) -> None:
    version = rt.export("meta", "version")
    assert version() == agentcell.version()
    with pytest.raises(agentcell.ComponentTrap):
        rt.call("testing", "trap", "x")
    assert version() == agentcell.version()


def test_component_is_loaded_once_per_process() -> None:
    a = agentcell.Runtime(":memory:")
    b = agentcell.Runtime(":memory:")
    assert a.loaded is b.loaded


def _load_in_child(cache_dir: Path) -> str:
    code = (
        "import agentcell;"
        "rt = agentcell.Runtime(':memory:');"
        "print(rt.loaded.from_cache, agentcell.health_check(rt))"
    )
    env = {"AGENTCELL_CACHE_DIR": str(cache_dir), "PATH": ""}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(agentcell.__file__).parents[1],
    )
    return out.stdout.strip()


def test_precompiled_cache_is_written_then_used(tmp_path: Path) -> None:
    assert _load_in_child(tmp_path) == "False True"
    assert list(tmp_path.glob("component-*.cwasm"))
    assert _load_in_child(tmp_path) == "True True"


def test_corrupt_cache_falls_back_to_compiling(tmp_path: Path) -> None:
    _load_in_child(tmp_path)
    (artifact,) = tmp_path.glob("component-*.cwasm")
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    assert _load_in_child(tmp_path) == "False True"
    artifact.write_bytes(b"short")
    assert _load_in_child(tmp_path) == "False True"


def test_unwritable_cache_never_fails(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("occupied")
    assert _load_in_child(not_a_dir / "cache") == "False True"


def test_artifact_key_depends_on_the_component(tmp_path: Path) -> None:
    wasm = DEFAULT_WASM.read_bytes()
    assert cache.artifact_path(wasm, tmp_path) != cache.artifact_path(wasm + b"\0", tmp_path)


def test_load_component_reports_its_hash() -> None:
    import hashlib

    loaded = load_component(DEFAULT_WASM)
    assert loaded.sha256 == hashlib.sha256(DEFAULT_WASM.read_bytes()).hexdigest()


def test_a_failing_host_import_traps_cleanly_and_names_the_cause(
    rt: agentcell.Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    agentcell.counter_add("kept", 2, rt)

    def broken(*_args: object) -> None:
        raise RuntimeError("backend exploded")

    monkeypatch.setattr(rt.storage, "get_utf8", broken)
    with pytest.raises(agentcell.ComponentTrap) as info:
        agentcell.counter_get("kept", rt)
    assert isinstance(info.value.__cause__, RuntimeError)
    monkeypatch.undo()
    assert agentcell.counter_get("kept", rt) == 2


def test_an_unsupported_wasmtime_py_is_named_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    from agentcell._wasm import _capi

    monkeypatch.setattr(importlib.metadata, "version", lambda _name: "49.0.0")
    with pytest.raises(agentcell.ComponentLoadError, match=r"needs wasmtime-py 50\.x, found 49\.0\.0"):
        _capi._check()
    monkeypatch.setattr(importlib.metadata, "version", lambda _name: "50.0.1")
    monkeypatch.delattr(_capi.wasmtime.Store, "_context")
    with pytest.raises(agentcell.ComponentLoadError, match=r"Store\._context"):
        _capi._check()


def test_a_trap_reads_in_the_documented_format(rt: agentcell.Runtime) -> None:
    with pytest.raises(agentcell.ComponentTrap) as e:
        rt.exports.testing.trap("boom")
    assert str(e.value).startswith(
        "the component trapped in testing.trap: deliberate trap: boom (at component/src/"
    )
    assert e.value.__cause__ is not None  # wasmtime's own error is kept as the cause


def test_results_are_lifted_by_their_wit_type(rt: agentcell.Runtime) -> None:
    # An empty list<u8> is still bytes (read by its type, not by its first element).
    assert rt.call("bench", "bytes-out", 0, 0) == b""
    assert rt.call("bench", "bytes-out", 3, 1) == bytes([1, 32, 63])
    assert rt.exports.bench.blob_in("0102") == (2, 3)
    # A variant is (case, payload); a record's fields are snake_case.
    build = rt.exports.meta.describe_build()
    assert build["wit_package"] == agentcell.build_info().wit_package


def test_resources_are_owned_dropped_once_and_refused_after_a_trap(rt: agentcell.Runtime) -> None:
    """A `memory.store` resource: each open owns one; a dropped one, or one of an
    instance replaced after a trap, is refused with a typed error before any call (a
    stale handle must never reach wasmtime, where it would fail the call as a trap)."""
    memory = rt.exports.memory
    options: MemoryStoreOptions = {"dimension": 2, "shard_count": 1, "index": "flat"}
    first, second = memory.store_open("r", options), memory.store_open("r", options)
    assert first is not second
    rt.drop(first)
    rt.drop(first)  # twice is harmless
    with pytest.raises(ValueError, match="dropped"):
        memory.store_count(first)
    assert memory.store_count(second) == 0
    with pytest.raises(agentcell.ComponentTrap):
        rt.exports.testing.trap("boom")
    with pytest.raises(ValueError, match="instance that is gone"):
        memory.store_count(second)
    rt.drop(second)  # freed only: its instance is gone
    third = memory.store_open("r", options)
    assert memory.store_count(third) == 0
