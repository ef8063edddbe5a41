"""The checks and encoding of a batch before `store_embeddings` sends it: the rows
that would fail a later call (checked before the first), and each call's entries as
WIT `put` columns."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .exceptions import ValidationError


def precheck(matrix: npt.NDArray[np.float32], dimension: int) -> None:
    """The checks of the rows that could fail a later call, made before the first."""
    if matrix.shape[1] != dimension:
        raise ValidationError(
            f"embeddings: rows have dimension {matrix.shape[1]}, the store {dimension}",
            field="embeddings",
        )
    # One pass, no full-size temporary: a row with NaN/inf has a non-finite squared
    # norm, a zero row a zero one. Rows flagged so (also huge or tiny finite rows,
    # whose squares overflow or underflow) are then checked exactly.
    squares = np.einsum("ij,ij->i", matrix, matrix)
    for row in np.flatnonzero(~np.isfinite(squares) | (squares == 0)):
        values = matrix[row]
        if not np.isfinite(values).all():
            raise ValidationError(f"embeddings[{row}]: holds NaN or infinity", field=f"embeddings[{row}]")
        if not values.any():
            raise ValidationError(f"embeddings[{row}]: is the zero vector", field=f"embeddings[{row}]")


def entries_json(keys: Sequence[str], metas: list[Any], diffs: list[Any], rows: Sequence[int]) -> str:
    """The entries of the batch's `rows` as WIT `put` columns."""
    columns: dict[str, list[Any]] = {"keys": [keys[i] for i in rows]}
    for name, values in (("metadata", metas), ("diff_ops", diffs)):
        column = [values[i] for i in rows]
        if any(v is not None for v in column):
            columns[name] = column
    try:
        return json.dumps(columns, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        for i in rows:
            try:
                json.dumps([metas[i], diffs[i]], allow_nan=False)
            except (TypeError, ValueError) as err:
                field = f"entries[{i}]"
                raise ValidationError(
                    f"{field}: metadata must be JSON-serialisable: {err}", field=field
                ) from None
        raise
