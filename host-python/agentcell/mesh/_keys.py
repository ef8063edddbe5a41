"""Key files: upstream's format and places (`~/.x0x/machine.key`, `agent.key`),
written atomically with mode 0600; a corrupt file is an error, never replaced."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .._wasm import Runtime
from .._wit import MeshKeyPair
from ..errors import InvalidArgumentError

__all__ = ["key_home", "load_key_file", "load_or_create", "save_key_file"]


def key_home() -> Path:
    """Where default key files live: `AGENTCELL_MESH_HOME`, else `~/.x0x` (upstream's)."""
    override = os.environ.get("AGENTCELL_MESH_HOME")
    return Path(override) if override else Path.home() / ".x0x"


def load_key_file(rt: Runtime, path: Path) -> MeshKeyPair:
    """The key pair in the file at `path`; `InvalidArgumentError` naming the file and
    the defect when it is not a valid key file."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InvalidArgumentError(f"cannot read key file {path}: {e}", field="key_file") from e
    try:
        return rt.exports.mesh.read_key_file(raw.hex())["keys"]
    except InvalidArgumentError as e:
        raise InvalidArgumentError(f"{path}: {e.message}", field="key_file") from None


def save_key_file(rt: Runtime, path: Path, keys: MeshKeyPair, *, exclusive: bool = False) -> None:
    """Writes `keys` to `path` in upstream's v1 format: a temporary file in the same
    directory, mode 0600, then renamed over the target (`exclusive`: linked, so a file
    another process wrote first is kept)."""
    data = bytes.fromhex(rt.exports.mesh.write_key_file(keys, None))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
            Path(tmp).unlink()
        else:
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_or_create(rt: Runtime, path: Path) -> MeshKeyPair:
    """The key pair at `path`, generated and saved there when the file does not exist."""
    if path.exists():
        return load_key_file(rt, path)
    # Two processes starting at once must end up with one key: the first file wins.
    save_key_file(rt, path, rt.exports.mesh.generate_key(None), exclusive=True)
    return load_key_file(rt, path)
