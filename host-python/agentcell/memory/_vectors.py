"""Embeddings in and out of the component: numpy arrays (or plain sequences) to hex
blobs of little-endian f32, and back. Hex is how bulk binary crosses the boundary
(see the WIT package comment): CPython encodes it at ~1 GB/s, one buffer per call."""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from typing import Any, Union

try:
    import numpy as np
    import numpy.typing as npt
except ImportError as e:  # pragma: no cover - exercised only without numpy
    raise ImportError("agentcell.memory needs numpy: pip install 'agentcell[numpy]'") from e

from .exceptions import ValidationError

#: What the API accepts as embeddings: an array (one vector or a 2-D batch) or plain
#: sequences of numbers.
ArrayLike = Union["npt.NDArray[Any]", Sequence[float], Sequence[Sequence[float]]]

LE_F32 = np.dtype("<f4")


def as_matrix(value: ArrayLike, field: str) -> npt.NDArray[np.float32]:
    """`value` as a C-contiguous 2-D little-endian float32 array (one row per vector)."""
    try:
        a = np.asarray(value)
    except (ValueError, TypeError) as e:
        raise ValidationError(f"{field}: must be an array of numbers ({e})", field=field) from None
    if a.dtype.kind not in "fiu" or a.dtype == np.bool_:
        raise ValidationError(f"{field}: must hold numbers, got dtype {a.dtype}", field=field)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2:
        raise ValidationError(
            f"{field}: must be one vector or a 2-D batch, got {a.ndim} dimensions", field=field
        )
    return np.ascontiguousarray(a, dtype=LE_F32)


def as_vector(value: ArrayLike, field: str) -> npt.NDArray[np.float32]:
    """One vector (a 1-D array, or a 2-D array with one row)."""
    m = as_matrix(value, field)
    if m.shape[0] != 1:
        raise ValidationError(f"{field}: must be one vector, got {m.shape[0]} rows", field=field)
    row: npt.NDArray[np.float32] = m[0]
    return row


def to_hex(a: npt.NDArray[np.float32]) -> str:
    return a.tobytes().hex()


#: Bytes of f32 per hex piece of a bulk `memory.put` (so 256 KiB of hex each).
PIECE_BYTES = 128 * 1024


def to_hex_pieces(a: npt.NDArray[np.float32]) -> list[bytes]:
    """The hex of C-contiguous `a` in pieces of at most 256 KiB. wasmtime-py copies a
    string that size ~7x faster than a multi-megabyte one: glibc maps each big buffer
    afresh, so every call pays page faults for it (WIT `memory.put`, measured)."""
    flat = memoryview(a.data).cast("B")
    return [binascii.hexlify(flat[i : i + PIECE_BYTES]) for i in range(0, len(flat), PIECE_BYTES)]


def from_hex(text: str) -> npt.NDArray[np.float32]:
    return np.frombuffer(bytes.fromhex(text), dtype=LE_F32).astype(np.float32)
