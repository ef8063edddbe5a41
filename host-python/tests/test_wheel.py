"""The wheel: pure Python, ships the very `.wasm` that was built, small."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

from .conftest import WASM_BUILD

HOST_PYTHON = Path(__file__).resolve().parents[1]


def test_wheel_is_pure_python_and_carries_the_built_component(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=HOST_PYTHON,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name
    assert wheel.stat().st_size <= 5 * 1024 * 1024
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert {"agentcell/py.typed", "agentcell/agentcell.wasm", "agentcell/__init__.py"} <= names
        shipped = z.read("agentcell/agentcell.wasm")
        metadata = z.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert hashlib.sha256(shipped).digest() == hashlib.sha256(WASM_BUILD.read_bytes()).digest()
    assert "Requires-Dist: wasmtime<51,>=50.0.1" in metadata or "Requires-Dist: wasmtime" in metadata
    assert "Requires-Python: >=3.10" in metadata
