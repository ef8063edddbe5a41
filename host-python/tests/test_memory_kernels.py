"""`agentcell.memory.kernels`: the seed's kernels, computed in the component, checked on
hand-computed cases, against the same formulas in numpy, and as the seed uses them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from agentcell.memory import (
    EthicalGate,
    HarmonicKernel,
    ResonanceKernel,
    ResonanceScore,
    ValidationError,
    calculate_resonance_score,
    kernels,
    validate_nam_compliance,
)


def numpy_resonance(x: np.ndarray[Any, Any], harmonics: int, t: float) -> tuple[float, float]:
    """The documented formula in numpy: (value, coherence)."""
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    n = len(u)
    c = 1.0 if n == 1 else float((np.sum(u.sum(0) ** 2) - n) / (n * (n - 1)))
    k = np.arange(1, harmonics + 1)
    s = float(np.sum(np.sin(k * np.pi * c + (k - 1) * t) / k) / np.sum(1.0 / k))
    return min(1.0, max(0.0, c * (1 + 0.1 * s))), c


def numpy_field(p: np.ndarray[Any, Any], modes: int, t: float) -> np.ndarray[Any, Any]:
    d = p.shape[1]
    m = np.arange(1, modes + 1)[:, None]
    waves = np.cos(np.pi * m * (np.arange(d)[None, :] + 0.5) / d)
    phase = p @ waves.T / math.sqrt(d)
    result: np.ndarray[Any, Any] = np.cos(m.T * t - phase)
    return result


def test_resonance_by_hand() -> None:
    same = calculate_resonance_score(np.array([[1.0, 0.0], [2.0, 0.0]]), ResonanceKernel(1))
    assert (same.value, same.coherence, same.ethical_tension) == pytest.approx((1.0, 1.0, 0.0))
    assert same.nam_compliant and same.is_valid and validate_nam_compliance(same)
    orthogonal = calculate_resonance_score([[1, 0], [0, 3]], ResonanceKernel(8), t=1.0)
    assert (orthogonal.value, orthogonal.ethical_tension) == pytest.approx((0.0, 0.5), abs=1e-7)
    assert not orthogonal.nam_compliant and not validate_nam_compliance([[1, 0], [0, 3]])
    c = 1 / math.sqrt(2)
    half = ResonanceKernel(n_harmonics=1).score([[1, 0], [1, 1]], t=5.0)
    assert half.value == pytest.approx(c * (1 + 0.1 * math.sin(math.pi * c)), abs=1e-6)
    assert half.ethical_tension == pytest.approx((1 - c) / 2, abs=1e-6) and half.is_valid


@pytest.mark.parametrize("harmonics", [1, 2, 8, 64])
def test_resonance_agrees_with_the_formula_in_numpy(harmonics: int) -> None:
    rng = np.random.default_rng(harmonics)
    base = rng.standard_normal(64)
    x = base + 0.5 * rng.standard_normal((40, 64))  # a fairly coherent batch
    score = ResonanceKernel(harmonics).score(x, t=0.7)
    value, coherence = numpy_resonance(x, harmonics, 0.7)
    assert score.value == pytest.approx(value, abs=1e-5)
    assert score.coherence == pytest.approx(coherence, abs=1e-5)
    assert ResonanceKernel(harmonics)(x, 0.7) == score.value


def test_harmonic_field_shape_and_formula() -> None:
    harmonic = HarmonicKernel(spatial_dims=768, n_modes=16)
    positions = np.random.default_rng(1).standard_normal((10, 768))
    field = harmonic(positions, 2.5)
    assert field.shape == (10, 16) and field.dtype == np.float32
    np.testing.assert_allclose(field, numpy_field(positions.astype(np.float32), 16, 2.5), atol=2e-5)
    by_hand = HarmonicKernel(spatial_dims=2, n_modes=2)([1.0, 0.0], 0.0)
    np.testing.assert_allclose(by_hand, [[math.cos(-0.5), 1.0]], atol=1e-6)


def test_a_big_batch_is_sent_in_parts_and_answers_as_one() -> None:
    """Past one piece (128 KiB of f32) the kernels send whole rows per call while the next
    piece is encoded (WIT `resonance-batch` for the score): same answers as numpy, and a
    bad row in a late piece is named by its row in the whole batch."""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(300) + 0.8 * rng.standard_normal((1500, 300))).astype(np.float32)
    assert x.nbytes > 128 * 1024 * 10
    score = ResonanceKernel(8).score(x, t=0.3)
    value, coherence = numpy_resonance(x.astype(np.float64), 8, 0.3)
    assert score.value == pytest.approx(value, abs=1e-5)
    assert score.coherence == pytest.approx(coherence, abs=1e-5)
    field = HarmonicKernel(spatial_dims=300, n_modes=5)(x, 1.5)
    assert field.shape == (1500, 5)
    np.testing.assert_allclose(field, numpy_field(x, 5, 1.5), atol=3e-5)
    x[1234, 7] = np.nan
    with pytest.raises(ValidationError, match="row 1234 holds a value that is not finite"):
        ResonanceKernel(8).score(x)
    with pytest.raises(ValidationError, match="not finite"):
        HarmonicKernel(spatial_dims=300, n_modes=5)(x)
    x[1234] = 0.0
    with pytest.raises(ValidationError, match="row 1234 is all zeros"):
        ResonanceKernel(8).score(x)
    assert ResonanceKernel(8).score(x[:1000]).coherence == pytest.approx(
        numpy_resonance(x[:1000].astype(np.float64), 8, 0.0)[1], abs=1e-5
    )


def test_ethical_gate_and_its_history() -> None:
    gate = EthicalGate(tension_threshold=0.35)
    valid, tension = gate.validate(np.array([0.1, 0.2, -0.05, 0.15]))
    assert valid and tension == pytest.approx(0.1)
    assert gate.validate([-1.0, 0.5]) == (False, pytest.approx(2 / 3))
    assert len(gate.violation_history) == 1 and gate.violation_history[0].size == 2
    assert gate.validate(np.zeros(3)) == (True, 0.0)
    with pytest.raises(ValidationError, match="tension_threshold"):
        EthicalGate(tension_threshold=1.5)
    with pytest.raises(ValidationError, match="one vector"):
        gate.validate(np.ones((2, 2)))


def test_inputs_convert_as_numpy_does_and_tensors_come_back_as_given() -> None:
    class TensorLike:
        """What a torch tensor offers numpy: `__array__`."""

        def __init__(self, a: np.ndarray[Any, Any]) -> None:
            self.a = a

        def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray[Any, Any]:
            return self.a if dtype is None else self.a.astype(dtype)

    x = np.arange(12, dtype=np.int64).reshape(3, 4) + 1
    score = calculate_resonance_score(TensorLike(x))
    assert score == calculate_resonance_score(x.astype(np.float64)) == calculate_resonance_score(x.tolist())
    assert isinstance(HarmonicKernel(4, 3)(TensorLike(x)), np.ndarray)


def test_a_torch_tensor_comes_back_as_one() -> None:
    torch = pytest.importorskip("torch")  # torch is never a dependency
    assert isinstance(HarmonicKernel(4, 3)(torch.ones(2, 4)), torch.Tensor)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ResonanceKernel(0), "n_harmonics"),
        (lambda: ResonanceKernel(65), "n_harmonics"),
        (lambda: ResonanceKernel(True), "n_harmonics"),  # type: ignore[arg-type]
        (lambda: HarmonicKernel(768, 0), "n_modes"),
        (lambda: HarmonicKernel(4, 2)(np.ones((2, 5))), "spatial_dims"),
        (lambda: calculate_resonance_score(np.array([[1.0, 0.0], [0.0, 0.0]])), "row 1 is all zeros"),
        (lambda: calculate_resonance_score(np.array([[np.nan, 1.0]])), "not finite"),
        (lambda: calculate_resonance_score(np.ones((2, 2, 2))), "2-D"),
        (lambda: calculate_resonance_score([["a", "b"]]), "numbers"),
        (lambda: calculate_resonance_score(np.ones((2, 2)), t=float("inf")), "finite"),
        (lambda: calculate_resonance_score(np.ones((2, 2)), t="soon"), "t: must be a number"),  # type: ignore[arg-type]
        (lambda: EthicalGate().validate([np.inf]), "finite"),
    ],
)
def test_bad_input_is_a_validation_error_naming_the_argument(call: Any, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        call()


def test_the_seeds_blocks_run_with_numpy_for_torch() -> None:
    np_randn = np.random.default_rng(0).standard_normal

    kernel = ResonanceKernel(n_harmonics=8)
    embeddings = np_randn((32, 768))
    t = 1.0
    resonance_score = calculate_resonance_score(embeddings, kernel, t)
    assert isinstance(resonance_score, ResonanceScore)
    assert f"{resonance_score.value:.3f}" and isinstance(resonance_score.nam_compliant, bool)
    assert f"{resonance_score.ethical_tension:.3f}" and isinstance(resonance_score.is_valid, bool)

    harmonic = HarmonicKernel(spatial_dims=768, n_modes=16)
    positions = np_randn((10, 768))
    field = harmonic(positions, 2.5)
    assert field.shape == (10, 16)

    gate = EthicalGate(tension_threshold=0.35)
    action_vector = np.array([0.1, 0.2, -0.05, 0.15])
    valid, tension = gate.validate(action_vector)
    assert valid and f"{tension:.3f}" == "0.100" and len(gate.violation_history) == 0
    assert set(kernels.__all__) >= {"calculate_resonance_score", "validate_nam_compliance"}
