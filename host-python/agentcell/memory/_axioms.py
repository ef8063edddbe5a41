"""`AxiomValidator`: a registry of named principles and checks over it (seed 004).

The formulas (computed in the component, the same for every host):

- relatedness(a, b) = 1 if a = b or either lists the other as related; 0 if either
  lists the other as conflicting; 0.5 if they share a category; 0.25 otherwise.
- resonance(S) = mean relatedness over the unordered pairs of S (1 when S has fewer
  than two principles).
- tension(P, C) = conflicting pairs / all pairs, over the pairs (p, c) with p in P,
  c in C, p != c, and the unordered pairs within P (0 when there are none).
- validate(a, C) is valid when a is known, resonance({a} + C) >= 0.45 and
  tension([a], C) <= 0.35.
- recommend(text): principles ranked by the share of the text's distinct words (3+
  letters, stop words dropped, simple suffix stemming) found in their title and
  statement; ties by id.

The shipped registry (`DEFAULT_PRINCIPLES`) has 15 principles; upstream registers 8
and claims 67, so the ids differ. Add your own with `register`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ParamSpec, TypeVar

from .._checks import strings
from .._default import runtime as default_runtime
from .._wasm import Runtime
from ..errors import AgentcellError, InvalidArgumentError, NotFoundError
from .exceptions import InvalidRegistryError, UnknownAxiomError

P = ParamSpec("P")
T = TypeVar("T")

__all__ = ["MAX_TENSION", "MIN_RESONANCE", "AxiomValidator", "Principle"]

MIN_RESONANCE = 0.45
MAX_TENSION = 0.35


@dataclass(frozen=True)
class Principle:
    """A named principle. `related` and `conflicts` hold ids of other principles."""

    id: str
    title: str
    statement: str
    category: str
    related: tuple[str, ...] = field(default=())
    conflicts: tuple[str, ...] = field(default=())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Principle:
        """A principle from its registry entry (``id``, ``title``, ``statement``, ...)."""
        return cls(
            id=d["id"],
            title=d["title"],
            statement=d["statement"],
            category=d["category"],
            related=tuple(d.get("related", ())),
            conflicts=tuple(d.get("conflicts", ())),
        )


def _axiom_error(e: AgentcellError) -> AgentcellError:
    if isinstance(e, NotFoundError):
        return UnknownAxiomError(e.message, field=e.field)
    if isinstance(e, InvalidArgumentError):
        return InvalidRegistryError(e.message, field=e.field)
    return e


class AxiomValidator:
    """Checks principles against a context of principles.

    >>> v = AxiomValidator()
    >>> v.validate_axiom("AX_NO_HARM", ["AX_LOVE_FORCE", "AX_EMPATHY_BRIDGE"])["is_valid"]
    True
    """

    def __init__(
        self,
        principles: Iterable[Principle] = (),
        *,
        include_defaults: bool = True,
        runtime: Runtime | None = None,
    ) -> None:
        self._runtime = runtime or default_runtime()
        base: list[dict[str, Any]] = (
            json.loads(self._runtime.exports.principles.default_registry()) if include_defaults else []
        )
        self._set_registry(base + [asdict(p) for p in principles])

    def _set_registry(self, entries: list[dict[str, Any]]) -> None:
        for e in entries:
            e["related"], e["conflicts"] = list(e.get("related", ())), list(e.get("conflicts", ()))
        normalised = self._call(self._runtime.exports.principles.normalize_registry, json.dumps(entries))
        self._registry = str(normalised)
        self._principles = {p["id"]: Principle.from_dict(p) for p in json.loads(self._registry)}

    def _call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn` (a `principles` export), its errors as the validator's own."""
        try:
            return fn(*args, **kwargs)
        except AgentcellError as e:
            raise _axiom_error(e) from e

    def register(self, principle: Principle) -> None:
        """Adds (or replaces) a principle; its references must be known."""
        if not isinstance(principle, Principle):
            raise TypeError(f"principle: must be a Principle, got {type(principle).__name__}")
        entries = [asdict(p) for p in self._principles.values() if p.id != principle.id]
        self._set_registry([*entries, asdict(principle)])

    @property
    def principles(self) -> tuple[Principle, ...]:
        """Every principle, sorted by id."""
        return tuple(self._principles.values())

    def get(self, axiom_id: str) -> Principle:
        """The principle `axiom_id`; `UnknownAxiomError` when there is none."""
        try:
            return self._principles[axiom_id]
        except KeyError:
            raise UnknownAxiomError(f"unknown principle {axiom_id!r}", field="axiom_id") from None

    def __contains__(self, axiom_id: object) -> bool:
        return axiom_id in self._principles

    def __len__(self) -> int:
        return len(self._principles)

    def validate_axiom(self, axiom_id: str, context_axioms: Sequence[str] | None = None) -> dict[str, Any]:
        """``{axiom_id, is_valid, resonance_score, ethical_tension, reasons}``.
        Raises `UnknownAxiomError` (an `AxiomError`) for an unknown id."""
        check = self._call(
            self._runtime.exports.principles.validate,
            self._registry,
            axiom_id,
            strings("context_axioms", context_axioms),
        )
        return dict(check)

    def validate_batch(
        self, axiom_ids: Sequence[str], context_axioms: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """``{results, batch_valid, overall_resonance, overall_tension}``."""
        batch = self._call(
            self._runtime.exports.principles.validate_batch,
            self._registry,
            strings("axiom_ids", axiom_ids),
            strings("context_axioms", context_axioms),
        )
        return {**batch, "results": [dict(r) for r in batch["results"]]}

    def calculate_resonance(self, axioms: Sequence[str]) -> float:
        """Mean pairwise relatedness."""
        return float(
            self._call(self._runtime.exports.principles.resonance, self._registry, strings("axioms", axioms))
        )

    def calculate_tension(
        self, proposed_axioms: Sequence[str], context_axioms: Sequence[str] | None = None
    ) -> float:
        """Share of conflicting pairs."""
        return float(
            self._call(
                self._runtime.exports.principles.tension,
                self._registry,
                strings("proposed_axioms", proposed_axioms),
                strings("context_axioms", context_axioms),
            )
        )

    def recommend_axioms(self, context: str, limit: int = 5) -> list[str]:
        """Principle ids whose wording best matches `context`, best first."""
        return [axiom_id for axiom_id, _ in self.recommend_with_scores(context, limit)]

    def recommend_with_scores(self, context: str, limit: int = 5) -> list[tuple[str, float]]:
        """Like `recommend_axioms`, with each score (matched share of the words)."""
        return [
            (str(i), float(s))
            for i, s in self._call(self._runtime.exports.principles.recommend, self._registry, context, limit)
        ]
