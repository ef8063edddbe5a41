"""Resonance kernels over batches of embeddings (seed 004's ``anam_py.kernels``),
computed in the component (WIT ``kernels``). The seed names them; the formulas are
ours, deterministic and consistent with the store's resonance ``c (1 + 0.1 sin(pi c))``
and its thresholds (resonance at least 0.45, tension at most 0.35):

* ``ResonanceKernel(n_harmonics)``: the coherence ``c`` of a batch is the mean cosine
  similarity over all pairs of distinct rows, ``(|sum u|^2 - n) / (n (n - 1))`` for the
  unit rows ``u`` (1 for a single row). Its value at time ``t`` is
  ``clamp01(c (1 + 0.1 s))`` with the harmonic sum
  ``s = sum_k sin(k pi c + (k - 1) t) / k / sum_k 1 / k`` over ``k = 1..n_harmonics``;
  with one harmonic it is exactly the store's resonance of ``c``. Its ethical tension is
  ``(1 - c) / 2``.
* ``HarmonicKernel(spatial_dims, n_modes)``: ``field[i, m] = cos((m + 1) t -
  (p_i . k_m) / sqrt(spatial_dims))`` with the DCT-II wave vectors
  ``k_m[j] = cos(pi (m + 1) (j + 1/2) / spatial_dims)``; shape ``[n, n_modes]``.
* ``EthicalGate(tension_threshold)``: an action's tension is the share of its magnitude
  pointing negative, ``sum max(0, -a_j) / sum |a_j|``; valid when at most the threshold.

Inputs are numpy arrays or anything ``numpy.asarray`` converts (a torch tensor does);
results are numpy arrays, or a torch tensor when given one. torch is never required.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .._default import runtime as default_runtime
from .._wasm import Runtime
from ..errors import AgentcellError
from ._vectors import LE_F32, PIECE_BYTES, ArrayLike, as_matrix, to_hex_pieces
from .exceptions import ValidationError

__all__ = [
    "EthicalGate",
    "HarmonicKernel",
    "ResonanceKernel",
    "ResonanceScore",
    "Violation",
    "calculate_resonance_score",
    "validate_nam_compliance",
]

MAX_HARMONICS = 64
MAX_MODES = 1024


def _positive_int(name: str, value: Any, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 1 <= int(value) <= most:
        raise ValidationError(f"{name}: must be an integer in 1..={most}, got {value!r}", field=name)
    return int(value)


def _time(t: Any) -> float:
    try:
        value = float(t)
    except (TypeError, ValueError):
        raise ValidationError(f"t: must be a number, got {type(t).__name__}", field="t") from None
    if not np.isfinite(value):
        raise ValidationError(f"t: must be finite, got {value}", field="t")
    return value


def _call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except ValidationError:
        raise
    except AgentcellError as e:
        if e.code == "invalid-argument":
            raise ValidationError(e.message, field=e.field) from e
        raise


def _row_pieces(m: npt.NDArray[np.float32]) -> Iterator[bytes]:
    """The hex of `m` in pieces of whole rows, about `PIECE_BYTES` of f32 each."""
    rows = max(1, PIECE_BYTES // (4 * m.shape[1]))
    for start in range(0, m.shape[0], rows):
        yield binascii.hexlify(m[start : start + rows].data.cast("B"))


def _like(result: npt.NDArray[np.float32], given: Any) -> Any:
    """`result` as a torch tensor when `given` was one (and torch is importable)."""
    if type(given).__module__.split(".")[0] == "torch":
        try:
            import torch  # type: ignore[import-not-found,unused-ignore]

            return torch.from_numpy(result)
        except ImportError:  # pragma: no cover - a tensor without torch cannot happen
            return result
    return result


@dataclass(frozen=True)
class ResonanceScore:
    """How well a batch agrees: ``value`` (the kernel's), ``coherence`` (mean pairwise
    cosine), ``ethical_tension``, ``nam_compliant`` (value >= 0.45) and ``is_valid``
    (compliant and tension <= 0.35)."""

    value: float
    coherence: float
    ethical_tension: float
    nam_compliant: bool
    is_valid: bool


class ResonanceKernel:
    """The resonance of a batch of embeddings at a time ``t`` (see the module docs)."""

    def __init__(self, n_harmonics: int = 8, *, runtime: Runtime | None = None) -> None:
        self.n_harmonics = _positive_int("n_harmonics", n_harmonics, MAX_HARMONICS)
        self._runtime = runtime or default_runtime()

    def score(self, embeddings: ArrayLike, t: float = 0.0) -> ResonanceScore:
        """The batch's `ResonanceScore` at time `t` (one row per embedding)."""
        m = as_matrix(embeddings, "embeddings")
        t = _time(t)
        kernels = self._runtime.exports.kernels
        if m.nbytes <= PIECE_BYTES:
            s = _call(kernels.resonance, to_hex_pieces(m), m.shape[1], self.n_harmonics, t)
        else:
            # A big batch in parts of whole rows (WIT `resonance-batch`): the component
            # folds each as it comes and never holds the whole batch (measured: 56-60 ms
            # against 92-117 ms for one call with every piece). Encoding the next part on
            # another thread meanwhile measured slower here: both are memory-bound.
            batch = _call(kernels.resonance_batch_start, m.shape[1])
            try:
                for piece in _row_pieces(m):
                    _call(kernels.resonance_batch_add, batch, [piece])
                s = _call(kernels.resonance_batch_score, batch, self.n_harmonics, t)
            finally:
                self._runtime.drop(batch)
        return ResonanceScore(
            value=float(s["value"]),
            coherence=float(s["coherence"]),
            ethical_tension=float(s["ethical_tension"]),
            nam_compliant=bool(s["nam_compliant"]),
            is_valid=bool(s["is_valid"]),
        )

    def __call__(self, embeddings: ArrayLike, t: float = 0.0) -> float:
        """The kernel's value for the batch at ``t``."""
        return self.score(embeddings, t).value

    def __repr__(self) -> str:
        return f"ResonanceKernel(n_harmonics={self.n_harmonics})"


class HarmonicKernel:
    """A harmonic field over ``spatial_dims``-dimensional positions with ``n_modes`` modes."""

    def __init__(self, spatial_dims: int = 768, n_modes: int = 16, *, runtime: Runtime | None = None) -> None:
        self.spatial_dims = _positive_int("spatial_dims", spatial_dims, 65536)
        self.n_modes = _positive_int("n_modes", n_modes, MAX_MODES)
        self._runtime = runtime or default_runtime()

    def __call__(self, positions: ArrayLike, t: float = 0.0) -> Any:
        """The field at ``t``: an array of shape ``[n, n_modes]`` (a torch tensor when
        ``positions`` is one)."""
        m = as_matrix(positions, "positions")
        if m.shape[1] != self.spatial_dims:
            raise ValidationError(
                f"positions: rows must have {self.spatial_dims} values (spatial_dims), got {m.shape[1]}",
                field="positions",
            )
        t = _time(t)
        kernels = self._runtime.exports.kernels

        if m.nbytes <= PIECE_BYTES:
            parts = [_call(kernels.harmonic_field, to_hex_pieces(m), m.shape[1], self.n_modes, t)]
        else:  # in parts of whole rows (WIT `harmonic-batch`), as `ResonanceKernel.score`
            batch = _call(kernels.harmonic_batch_start, m.shape[1], self.n_modes, t)
            try:
                parts = [str(_call(kernels.harmonic_batch_add, batch, [piece])) for piece in _row_pieces(m)]
            finally:
                self._runtime.drop(batch)
        field_values = np.frombuffer(bytes.fromhex("".join(parts)), dtype=LE_F32).astype(np.float32)
        return _like(field_values.reshape(m.shape[0], self.n_modes), positions)

    def __repr__(self) -> str:
        return f"HarmonicKernel(spatial_dims={self.spatial_dims}, n_modes={self.n_modes})"


@dataclass(frozen=True)
class Violation:
    """An action the gate refused: its tension, the threshold then, and its length."""

    tension: float
    threshold: float
    size: int


@dataclass
class EthicalGate:
    """Refuses actions whose tension is above ``tension_threshold`` (in [0, 1]); each
    refusal is appended to ``violation_history``."""

    tension_threshold: float = 0.35
    violation_history: list[Violation] = field(default_factory=list)
    runtime: Runtime | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        threshold = self.tension_threshold
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
            raise ValidationError(
                f"tension_threshold: must be a number in [0, 1], got {threshold!r}", field="tension_threshold"
            )

    def tension(self, action_vector: ArrayLike) -> float:
        """The action's tension, in [0, 1]."""
        m = as_matrix(action_vector, "action_vector")
        if m.shape[0] != 1:
            raise ValidationError(
                f"action_vector: must be one vector, got {m.shape[0]} rows", field="action_vector"
            )
        rt = self.runtime or default_runtime()
        return float(_call(rt.exports.kernels.action_tension, to_hex_pieces(m)))

    def validate(self, action_vector: ArrayLike) -> tuple[bool, float]:
        """``(valid, tension)``; an invalid action is recorded in ``violation_history``."""
        tension = self.tension(action_vector)
        valid = tension <= self.tension_threshold
        if not valid:
            size = int(np.asarray(action_vector).size)
            self.violation_history.append(Violation(tension, float(self.tension_threshold), size))
        return valid, tension


def calculate_resonance_score(
    embeddings: ArrayLike, kernel: ResonanceKernel | None = None, t: float = 0.0
) -> ResonanceScore:
    """The resonance score of a batch of embeddings under ``kernel`` (8 harmonics when
    none is given) at time ``t``."""
    return (kernel or ResonanceKernel()).score(embeddings, t)


def validate_nam_compliance(
    embeddings: ArrayLike | ResonanceScore, kernel: ResonanceKernel | None = None, t: float = 0.0
) -> bool:
    """Whether a batch (or an already computed score) is valid: resonance at least 0.45
    and tension at most 0.35."""
    if isinstance(embeddings, ResonanceScore):
        return embeddings.is_valid
    return calculate_resonance_score(embeddings, kernel, t).is_valid
