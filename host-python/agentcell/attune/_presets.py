"""The short way in, as upstream's package has it: `Attuned(user_id, **axes)` and a few
ready-made `Presets`.

    >>> from agentcell.attune import Attuned, Presets
    >>> Attuned("ana", warmth=0.9, cognitive_load=0.9).context().tone
    'warm-casual'
    >>> "high_stakes" in Presets.high_stakes().context().flags
    True
"""

from __future__ import annotations

from ._model import PromptContext, RuleTranslator, Source, StateSnapshot

__all__ = ["Attuned", "Presets"]


class Attuned:
    """A self-reported state of `user_id` on the axes given as keywords (each a value in
    [0, 1]; canonical names, or well-formed custom ones), validated at once."""

    def __init__(self, user_id: str = "default", **axes: float) -> None:
        builder = StateSnapshot.builder().user_id(user_id).source(Source.SELF_REPORT)
        self.snapshot: StateSnapshot = builder.axes(axes).build()

    def context(self, translator: RuleTranslator | None = None) -> PromptContext:
        """The prompt context of this state."""
        return (translator or RuleTranslator()).to_prompt_context(self.snapshot)

    def prompt(self, translator: RuleTranslator | None = None) -> str:
        """The prompt context as a block for a system prompt (`format_for_prompt`)."""
        return self.context(translator).format_for_prompt()

    def __repr__(self) -> str:
        axes = ", ".join(f"{k}={v:.3g}" for k, v in self.snapshot.axes.items())
        return f"Attuned({self.snapshot.user_id!r}, {axes})"


class Presets:
    """Typical states, each an `Attuned` (values chosen here, for trying things out)."""

    @staticmethod
    def anxious_user(user_id: str = "default") -> Attuned:
        return Attuned(user_id, anxiety_level=0.85, need_for_reassurance=0.8, warmth=0.8)

    @staticmethod
    def busy_executive(user_id: str = "default") -> Attuned:
        return Attuned(
            user_id,
            urgency_sensitivity=0.9,
            verbosity_preference=0.15,
            cognitive_load=0.8,
            decision_fatigue=0.75,
            directness_preference=0.85,
            ritual_need=0.2,
        )

    @staticmethod
    def learning_student(user_id: str = "default") -> Attuned:
        return Attuned(
            user_id,
            tolerance_for_complexity=0.4,
            verbosity_preference=0.8,
            need_for_reassurance=0.6,
            suggestion_tolerance=0.8,
            warmth=0.75,
        )

    @staticmethod
    def casual_chat(user_id: str = "default") -> Attuned:
        return Attuned(user_id, warmth=0.8, formality=0.2, transactional_preference=0.2)

    @staticmethod
    def high_stakes(user_id: str = "default") -> Attuned:
        return Attuned(
            user_id,
            stakes_awareness=0.95,
            formality=0.8,
            verbosity_preference=0.75,
            directness_preference=0.7,
        )

    @staticmethod
    def overwhelmed(user_id: str = "default") -> Attuned:
        return Attuned(
            user_id,
            cognitive_load=0.95,
            decision_fatigue=0.9,
            anxiety_level=0.75,
            verbosity_preference=0.1,
            interruption_tolerance=0.2,
        )

    @staticmethod
    def privacy_conscious(user_id: str = "default") -> Attuned:
        return Attuned(user_id, privacy_sensitivity=0.95, suggestion_tolerance=0.25, boundary_strength=0.8)
