"""Attuned's in-process model: snapshots, the rule translator, axes and the state store."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .._default import runtime
from .._wasm import Runtime
from .._wit import AttuneAxis, AttunePromptContext, AttuneSnapshot, AttuneThresholds
from ..errors import InvalidArgumentError

__all__ = [
    "BASE_GUIDELINES",
    "NEUTRAL",
    "AxisDefinition",
    "Category",
    "Deprecation",
    "PromptContext",
    "RuleTranslator",
    "Source",
    "StateSnapshot",
    "StateSnapshotBuilder",
    "StateStore",
    "Thresholds",
    "Verbosity",
    "get_all_axes",
    "get_axis",
    "get_axis_names",
    "is_valid_axis_name",
]

# The value of an axis a snapshot does not give: the neutral middle.
NEUTRAL = 0.5


# The three guidelines every context starts with, in this order (set by the component).
BASE_GUIDELINES = (
    "Offer suggestions, not actions",
    "Nothing drafted is sent or applied until the user approves it",
    "When nothing needs doing, saying nothing is fine",
)


class Source(str, enum.Enum):
    """Where a snapshot's values come from."""

    SELF_REPORT = "self-report"
    INFERRED = "inferred"
    MIXED = "mixed"

    @property
    def wire(self) -> str:
        """The JSON spelling (upstream's): `self_report`, `inferred`, `mixed`."""
        return self.value.replace("-", "_")

    @classmethod
    def from_wire(cls, text: str) -> Source:
        """The source spelled `text` in JSON; the dashed spelling is not JSON's."""
        for source in cls:
            if source.wire == text:
                return source
        raise ValueError(f"source: {text!r} is not one of self_report, inferred, mixed")


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

    def format_summary(self) -> str:
        """A few lines for a human reviewing a use of this axis: what it measures, its
        two ends, what it is for and what it must never be used for."""
        lines = [
            f"{self.name} ({self.category.value}): {self.description}",
            f"  low:  {self.low_anchor}",
            f"  high: {self.high_anchor}",
            "  for: " + "; ".join(self.intent),
            "  never for: " + "; ".join(self.forbidden_uses),
        ]
        if self.deprecated:
            lines.append(f"  deprecated since {self.deprecated.since}: {self.deprecated.reason}")
        return "\n".join(lines)

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

    def get_axis(self, name: str) -> float:
        """The value of axis `name`; the neutral 0.5 when the snapshot does not give it
        (as the translator reads it)."""
        return self.axes.get(name, NEUTRAL)

    def get_axis_opt(self, name: str) -> float | None:
        """The value of axis `name`, `None` when the snapshot does not give it."""
        return self.axes.get(name)

    def to_json(self) -> str:
        """The snapshot as upstream's JSON (`source` in snake_case)."""
        return json.dumps({**self._to_json(), "source": self.source.wire})

    @classmethod
    def from_json(cls, text: str) -> StateSnapshot:
        """A snapshot from `to_json`'s form, validated by the component."""
        try:
            raw = json.loads(text)
            if not isinstance(raw, dict):
                raise TypeError("not an object")
            builder = cls.builder().user_id(raw["user_id"]).axes(raw.get("axes", {}))
            builder.source(Source.from_wire(raw.get("source", "self_report")))
            builder.confidence(raw.get("confidence", 1.0))
            builder.updated_at_unix_ms(raw.get("updated_at_unix_ms", 0))
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise InvalidArgumentError(f"snapshot JSON: {e}", field="snapshot") from None
        return builder.build()

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
            # Values cross unchanged: a value is the f32 the component holds (0.9 reads
            # back as 0.8999999761581421), so a value one ulp past a threshold stays past it.
            confidence=raw["confidence"],
            axes=MappingProxyType({a["name"]: a["value"] for a in raw["axes"]}),
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
        """Defaults to the time of `build()`. A signed 64-bit count of milliseconds."""
        if isinstance(millis, bool) or not isinstance(millis, int):
            raise InvalidArgumentError(
                f"updated_at_unix_ms: must be an integer, got {type(millis).__name__}",
                field="updated_at_unix_ms",
            )
        if not -(2**63) <= millis < 2**63:
            raise InvalidArgumentError(
                "updated_at_unix_ms: must fit in a signed 64-bit integer", field="updated_at_unix_ms"
            )
        self._updated_at = millis
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
    """What goes into the system prompt: guidelines (the three base ones first), a tone,
    a verbosity and flags, as upstream's."""

    guidelines: list[str]
    tone: str
    verbosity: Verbosity
    flags: list[str]

    def format_for_prompt(self) -> str:
        """The context as a block to put in a system prompt (laid out by the component:
        a heading, a `- ` line per guideline, then tone, verbosity and any flags)."""
        raw: AttunePromptContext = {
            "guidelines": list(self.guidelines),
            "tone": self.tone,
            "verbosity": self.verbosity.value,
            "flags": list(self.flags),
        }
        return runtime().exports.attune.format_for_prompt(raw)

    def to_json(self) -> str:
        """The context as the service sends it."""
        body = {"guidelines": self.guidelines, "tone": self.tone, "verbosity": self.verbosity.value}
        return json.dumps({**body, "flags": self.flags})

    @classmethod
    def from_json(cls, text: str) -> PromptContext:
        """A context from `to_json`'s (or the service's) form."""
        try:
            raw = json.loads(text)
            return cls(
                guidelines=[str(g) for g in raw["guidelines"]],
                tone=str(raw["tone"]),
                verbosity=Verbosity(raw["verbosity"]),
                flags=[str(f) for f in raw.get("flags", [])],
            )
        except (ValueError, TypeError, KeyError) as e:
            raise InvalidArgumentError(f"context JSON: {e}", field="context") from None

    @classmethod
    def _from_wit(cls, raw: AttunePromptContext) -> PromptContext:
        return cls(
            guidelines=list(raw["guidelines"]),
            tone=raw["tone"],
            verbosity=Verbosity(raw["verbosity"]),
            flags=list(raw["flags"]),
        )


@dataclass(frozen=True)
class Thresholds:
    """A value above `hi` is high, below `lo` is low (strictly); checked by the component
    when used (`0 <= lo < hi <= 1`)."""

    hi: float = 0.7
    lo: float = 0.3


class RuleTranslator:
    """Snapshot -> `PromptContext`, deterministically. A value above `hi` is high, below
    `lo` low (strictly; defaults 0.7 and 0.3, as upstream Attuned). Give the thresholds as
    upstream does, `RuleTranslator(Thresholds(hi=0.8, lo=0.2))`, or as `hi=`/`lo=`."""

    def __init__(
        self,
        thresholds: Thresholds | None = None,
        *,
        hi: float | None = None,
        lo: float | None = None,
        rt: Runtime | None = None,
    ) -> None:
        base = thresholds or Thresholds()
        self.thresholds = Thresholds(hi=base.hi if hi is None else hi, lo=base.lo if lo is None else lo)
        self._rt = rt

    @property
    def hi(self) -> float:
        return self.thresholds.hi

    @property
    def lo(self) -> float:
        return self.thresholds.lo

    def _thresholds(self) -> AttuneThresholds:
        return {"hi": self.hi, "lo": self.lo}

    def to_prompt_context(self, snapshot: StateSnapshot) -> PromptContext:
        """The prompt context of one snapshot."""
        if not isinstance(snapshot, StateSnapshot):
            raise TypeError(f"snapshot: must be a StateSnapshot, got {type(snapshot).__name__}")
        return self.to_prompt_contexts((snapshot,))[0]

    def to_prompt_contexts(self, snapshots: Iterable[StateSnapshot]) -> list[PromptContext]:
        """Many snapshots in one call into the component. Snapshots cross as one JSON
        string (`translate-batch-json`): far cheaper from Python than ~50 component
        values per snapshot."""
        if isinstance(snapshots, StateSnapshot | str | bytes):
            raise TypeError(
                "snapshots: must be an iterable of StateSnapshot (to translate one: to_prompt_context)"
            )
        items = list(snapshots)
        for i, s in enumerate(items):
            if not isinstance(s, StateSnapshot):
                raise TypeError(f"snapshots[{i}]: must be a StateSnapshot, got {type(s).__name__}")
        text = json.dumps([s._to_json() for s in items])
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


def get_axis(name: str) -> AxisDefinition | None:
    """The canonical axis `name`; `None` for any other name, a custom axis's too (custom
    axes have no governance entry), as upstream."""
    for axis in get_all_axes():
        if axis.name == name:
            return axis
    return None


def get_axis_names() -> list[str]:
    """The names of the 23 canonical axes, in category order."""
    return [a.name for a in get_all_axes()]


def is_valid_axis_name(name: str) -> bool:
    """Whether `name` is a well-formed axis name (1-64 of `a-z`, `0-9`, `_`, not starting
    or ending with `_`): a canonical axis, or a custom one a snapshot may carry."""
    if not isinstance(name, str):
        raise TypeError(f"name: must be a str, not {type(name).__name__}")
    return bool(runtime().exports.attune.is_valid_axis_name(name))
