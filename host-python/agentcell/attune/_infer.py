"""Inference of axes from text, computed by the component (`attune.infer`): upstream's
`InferenceEngine`, `InferredState`, `AxisEstimate` and `LinguisticFeatures`.

    >>> from agentcell.attune import InferenceEngine
    >>> state = InferenceEngine().infer("I'm so worried, I'm not sure this will work.")
    >>> state.get("anxiety_level").source
    'inferred'

Every estimate names its source and the features it used, and its confidence is capped
(0.7 by default). A self report always outranks an inference: `to_snapshot` gives an
inferred snapshot, which the store never lets overwrite a value the user reported.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from .._default import runtime
from .._wasm import Runtime
from .._wit import AttuneAxisEstimate, AttuneInferredState, AttuneLinguisticFeatures
from ._model import Source, StateSnapshot

__all__ = ["DEFAULT_CONFIDENCE_CAP", "AxisEstimate", "InferenceEngine", "InferredState", "LinguisticFeatures"]

DEFAULT_CONFIDENCE_CAP = 0.7


@dataclass(frozen=True)
class LinguisticFeatures:
    """What a text is made of: counts, ratios and derived scores in [0, 1] (formulas in
    docs/attune.md)."""

    word_count: int
    sentence_count: int
    avg_word_length: float
    avg_sentence_length: float
    reading_grade: float
    hedge_count: int
    certainty_count: int
    negative_emotion_count: int
    absolutist_count: int
    urgency_count: int
    imperative_count: int
    politeness_count: int
    first_person_count: int
    caps_ratio: float
    exclamation_ratio: float
    question_ratio: float
    complexity: float
    emotional_intensity: float
    uncertainty: float
    anxiety: float
    urgency: float
    formality: float

    @classmethod
    def _from_wit(cls, raw: AttuneLinguisticFeatures) -> LinguisticFeatures:
        values: dict[str, Any] = dict(raw)
        return cls(**{f.name: values[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class AxisEstimate:
    """One axis estimated from text: its value, confidence (never above the cap),
    variance, source (`"inferred"`) and the features it was computed from."""

    axis: str
    value: float
    confidence: float
    variance: float
    source: str
    features: list[str]

    def _to_wit(self) -> AttuneAxisEstimate:
        return {
            "axis": self.axis,
            "value": self.value,
            "confidence": self.confidence,
            "variance": self.variance,
            "source": self.source,
            "features": list(self.features),
        }

    @classmethod
    def _from_raw(cls, raw: AttuneAxisEstimate | dict[str, Any]) -> AxisEstimate:
        return cls(
            axis=raw["axis"],
            value=raw["value"],
            confidence=raw["confidence"],
            variance=raw["variance"],
            source=raw["source"],
            features=list(raw["features"]),
        )


@dataclass(frozen=True)
class InferredState:
    """The estimates of one text, or of a history of texts combined."""

    estimates: list[AxisEstimate]

    def get(self, axis: str) -> AxisEstimate | None:
        """The estimate of `axis`, `None` when there is none."""
        return next((e for e in self.estimates if e.axis == axis), None)

    def to_snapshot(self, user_id: str) -> StateSnapshot:
        """An inferred snapshot of these values, confidence the lowest estimate's. Stored,
        it never overwrites a value the user reported themselves."""
        confidence = min((e.confidence for e in self.estimates), default=0.0)
        builder = StateSnapshot.builder().user_id(user_id).source(Source.INFERRED).confidence(confidence)
        return builder.axes({e.axis: e.value for e in self.estimates}).build()

    def _to_wit(self) -> AttuneInferredState:
        return {"estimates": [e._to_wit() for e in self.estimates]}

    @classmethod
    def _from_raw(cls, raw: AttuneInferredState | dict[str, Any]) -> InferredState:
        return cls(estimates=[AxisEstimate._from_raw(e) for e in raw["estimates"]])


class InferenceEngine:
    """Axes from text, deterministically: the same text always gives the same estimates.
    `confidence_cap` (in (0, 1], default 0.7) bounds every estimate's confidence."""

    def __init__(self, confidence_cap: float = DEFAULT_CONFIDENCE_CAP, *, rt: Runtime | None = None) -> None:
        self.confidence_cap = float(confidence_cap)
        self._rt = rt

    @property
    def _runtime(self) -> Runtime:
        return self._rt or runtime()

    def extract_features(self, text: str) -> LinguisticFeatures:
        """The features of `text` (at most 1 MiB)."""
        return LinguisticFeatures._from_wit(self._runtime.exports.attune.extract_features(_text(text)))

    def infer(self, text: str) -> InferredState:
        """The estimates of `text`; an empty text gives none."""
        raw = self._runtime.exports.attune.infer(_text(text), self.confidence_cap)
        return InferredState._from_raw(raw)

    def infer_batch(self, texts: Iterable[str]) -> list[InferredState]:
        """`infer` of many texts in one call into the component (they cross as one JSON
        string: far cheaper from Python than component values per estimate)."""
        batch = [_text(t) for t in _not_a_str(texts)]
        out = json.loads(
            self._runtime.exports.attune.infer_batch_json(json.dumps(batch), self.confidence_cap)
        )
        catalogue = [(c["axis"], c["source"], c["features"]) for c in out["catalogue"]]
        states = out["states"]
        # JSON writes each f32 shortest (0.29255): read back as that f32, so a batch
        # answers exactly as single calls do.
        numbers = iter(array("f", [x for s in states for e in s for x in e[1:]]).tolist())
        return [
            InferredState(
                [
                    AxisEstimate(axis, next(numbers), next(numbers), next(numbers), source, list(features))
                    for axis, source, features in (catalogue[e[0]] for e in s)
                ]
            )
            for s in states
        ]

    def combine(self, prior: InferredState, update: InferredState) -> InferredState:
        """`prior` (a history) updated with `update`: per axis, the precision-weighted
        mean, a smaller variance and the confidence it implies, capped."""
        raw = self._runtime.exports.attune.combine(prior._to_wit(), update._to_wit(), self.confidence_cap)
        return InferredState._from_raw(raw)

    def deltas(self, baseline: InferredState, current: InferredState) -> dict[str, float]:
        """How far each axis of `current` has moved from a user's `baseline`."""
        return dict(self._runtime.exports.attune.deltas(baseline._to_wit(), current._to_wit()))


def _text(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text: must be a str, not {type(text).__name__}")
    return text


def _not_a_str(texts: Iterable[str]) -> Sequence[str]:
    if isinstance(texts, str):
        raise TypeError("texts: must be an iterable of str, not a str")
    return list(texts)
