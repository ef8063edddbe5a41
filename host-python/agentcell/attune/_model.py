"""Attuned's in-process model: snapshots, the rule translator, axes and the state store."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .._default import runtime
from .._wasm import Runtime
from .._wit import AttuneAxis, AttunePromptContext, AttuneSnapshot, AttuneThresholds

__all__ = [
    "BASE_GUIDELINES",
    "AxisDefinition",
    "Category",
    "Deprecation",
    "PromptContext",
    "RuleTranslator",
    "Source",
    "StateSnapshot",
    "StateSnapshotBuilder",
    "StateStore",
    "Verbosity",
    "get_all_axes",
    "get_axis",
]


def _f32(value: float) -> float:
    # Axis values cross as f32; show them as the decimal the user most likely wrote
    # (0.9, not 0.8999999761581421). 7 significant digits round-trip any f32 in [0, 1].
    return float(f"{value:.7g}")


# The three guidelines every context starts with, in this order (set by the component).
BASE_GUIDELINES = (
    "Offer suggestions, not actions",
    "Drafts require explicit user approval",
    "Silence is acceptable if no action is required",
)


class Source(str, enum.Enum):
    """Where a snapshot's values come from."""

    SELF_REPORT = "self-report"
    INFERRED = "inferred"
    MIXED = "mixed"


class Verbosity(str, enum.Enum):
    """How much the LLM should say."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Category(str, enum.Enum):
    """The six groups of canonical axes."""

    COGNITIVE = "cognitive"
    EMOTIONAL = "emotional"
    SOCIAL = "social"
    PREFERENCES = "preferences"
    CONTROL = "control"
    SAFETY = "safety"


@dataclass(frozen=True)
class Deprecation:
    since: str
    reason: str
    replacement: str | None


@dataclass(frozen=True)
class AxisDefinition:
    """A canonical axis with its governance data: what it is for (`intent`) and what it
    must never be used for (`forbidden_uses`)."""

    name: str
    category: Category
    description: str
    low_anchor: str
    high_anchor: str
    intent: tuple[str, ...]
    forbidden_uses: tuple[str, ...]
    since: str
    deprecated: Deprecation | None

    @classmethod
    def _from_wit(cls, raw: AttuneAxis) -> AxisDefinition:
        dep = raw["deprecated"]
        return cls(
            name=raw["name"],
            category=Category(raw["category"]),
            description=raw["description"],
            low_anchor=raw["low_anchor"],
            high_anchor=raw["high_anchor"],
            intent=tuple(raw["intent"]),
            forbidden_uses=tuple(raw["forbidden_uses"]),
            since=raw["since"],
            deprecated=Deprecation(**dep) if dep else None,
        )


@dataclass(frozen=True)
class StateSnapshot:
    """A user's state at one moment. Build one with `StateSnapshot.builder()`; it is
    validated by the component (unknown axis, value outside [0, 1], NaN, empty user id
    or confidence outside [0, 1] raise `InvalidArgumentError` naming the field)."""

    user_id: str
    updated_at_unix_ms: int
    source: Source
    confidence: float
    axes: Mapping[str, float]

    @staticmethod
    def builder() -> StateSnapshotBuilder:
        return StateSnapshotBuilder()

    def get_axis(self, name: str, default: float | None = None) -> float | None:
        """The value of axis `name`, or `default` when the snapshot does not give it."""
        return self.axes.get(name, default)

    def _to_wit(self) -> AttuneSnapshot:
        return {
            "user_id": self.user_id,
            "updated_at_unix_ms": self.updated_at_unix_ms,
            "source": self.source.value,
            "confidence": self.confidence,
            "axes": [{"name": n, "value": v} for n, v in self.axes.items()],
        }

    def _to_json(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "updated_at_unix_ms": self.updated_at_unix_ms,
            "source": self.source.value,
            "confidence": self.confidence,
            "axes": dict(self.axes),
        }

    @classmethod
    def _from_wit(cls, raw: AttuneSnapshot) -> StateSnapshot:
        return cls(
            user_id=raw["user_id"],
            updated_at_unix_ms=raw["updated_at_unix_ms"],
            source=Source(raw["source"]),
            confidence=_f32(raw["confidence"]),
            axes=MappingProxyType({a["name"]: _f32(a["value"]) for a in raw["axes"]}),
        )


class StateSnapshotBuilder:
    """Fluent builder for `StateSnapshot`; `build()` validates in the component."""

    def __init__(self) -> None:
        self._user_id = ""
        self._source = Source.SELF_REPORT
        self._confidence = 1.0
        self._updated_at = 0
        self._axes: dict[str, float] = {}
        self._runtime: Runtime | None = None

    def user_id(self, user_id: str) -> StateSnapshotBuilder:
        self._user_id = user_id
        return self

    def source(self, source: Source | str) -> StateSnapshotBuilder:
        self._source = Source(source)
        return self

    def confidence(self, confidence: float) -> StateSnapshotBuilder:
        self._confidence = float(confidence)
        return self

    def updated_at_unix_ms(self, millis: int) -> StateSnapshotBuilder:
        """Defaults to the time of `build()`."""
        self._updated_at = int(millis)
        return self

    def axis(self, name: str, value: float) -> StateSnapshotBuilder:
        self._axes[name] = float(value)
        return self

    def axes(self, values: Mapping[str, float]) -> StateSnapshotBuilder:
        for name, value in values.items():
            self.axis(name, value)
        return self

    def runtime(self, rt: Runtime) -> StateSnapshotBuilder:
        """Validate with this runtime instead of the shared one."""
        self._runtime = rt
        return self

    def build(self) -> StateSnapshot:
        draft = StateSnapshot(
            self._user_id, self._updated_at, self._source, self._confidence, dict(self._axes)
        )
        raw = (self._runtime or runtime()).exports.attune.validate(draft._to_wit())
        return StateSnapshot._from_wit(raw)


@dataclass(frozen=True)
class PromptContext:
    """What goes into the system prompt."""

    guidelines: tuple[str, ...]
    tone: str
    verbosity: Verbosity
    flags: tuple[str, ...]

    @classmethod
    def _from_wit(cls, raw: AttunePromptContext) -> PromptContext:
        return cls(
            guidelines=tuple(raw["guidelines"]),
            tone=raw["tone"],
            verbosity=Verbosity(raw["verbosity"]),
            flags=tuple(raw["flags"]),
        )


class RuleTranslator:
    """Snapshot -> `PromptContext`, deterministically. A value above `hi` is high, below
    `lo` low (strictly; defaults 0.7 and 0.3, as upstream Attuned)."""

    def __init__(self, hi: float = 0.7, lo: float = 0.3, *, rt: Runtime | None = None) -> None:
        self.hi = hi
        self.lo = lo
        self._rt = rt

    def _thresholds(self) -> AttuneThresholds:
        return {"hi": self.hi, "lo": self.lo}

    def to_prompt_context(self, snapshot: StateSnapshot) -> PromptContext:
        return self.to_prompt_contexts((snapshot,))[0]

    def to_prompt_contexts(self, snapshots: Iterable[StateSnapshot]) -> list[PromptContext]:
        """Many snapshots in one call into the component. Snapshots cross as one JSON
        string (`translate-batch-json`): far cheaper from Python than ~50 component
        values per snapshot."""
        import json

        text = json.dumps([s._to_json() for s in snapshots])
        out = (self._rt or runtime()).exports.attune.translate_batch_json(text, self._thresholds())
        return [PromptContext._from_wit(c) for c in json.loads(out)]


class StateStore:
    """Users' state in the runtime's storage (a SQLite file by default). Upserting an
    inferred snapshot never overwrites a value the user reported themselves."""

    def __init__(self, rt: Runtime | None = None) -> None:
        self._rt = rt

    @property
    def _runtime(self) -> Runtime:
        return self._rt or runtime()

    def upsert_state(self, snapshot: StateSnapshot) -> StateSnapshot:
        """Stores `snapshot`; returns the state as stored after merging."""
        return StateSnapshot._from_wit(self._runtime.exports.attune.upsert_state(snapshot._to_wit()))

    def get_state(self, user_id: str) -> StateSnapshot:
        """Raises `NotFoundError` (a `KeyError`) when the user has no state."""
        return StateSnapshot._from_wit(self._runtime.exports.attune.get_state(user_id))

    def delete_state(self, user_id: str) -> bool:
        return bool(self._runtime.exports.attune.delete_state(user_id))

    def get_context(self, user_id: str, translator: RuleTranslator | None = None) -> PromptContext:
        t = translator or RuleTranslator()
        raw = self._runtime.exports.attune.get_context(user_id, t._thresholds())
        return PromptContext._from_wit(raw)


_axes_cache: tuple[AxisDefinition, ...] | None = None


def get_all_axes() -> tuple[AxisDefinition, ...]:
    """The 23 canonical axes, in category order."""
    global _axes_cache
    if _axes_cache is None:
        _axes_cache = tuple(AxisDefinition._from_wit(a) for a in runtime().exports.attune.axes())
    return _axes_cache


def get_axis(name: str) -> AxisDefinition:
    """The canonical axis `name`; raises `NotFoundError` (a `KeyError`) otherwise."""
    for axis in get_all_axes():
        if axis.name == name:
            return axis
    return AxisDefinition._from_wit(runtime().exports.attune.get_axis(name))
