"""Attuned: a user's state on canonical axes becomes guidelines for an LLM prompt.

    >>> from agentcell import StateSnapshot, RuleTranslator, Source
    >>> snapshot = (StateSnapshot.builder().user_id("user_123").source(Source.SELF_REPORT)
    ...             .axis("warmth", 0.9).axis("cognitive_load", 0.9).build())
    >>> RuleTranslator().to_prompt_context(snapshot).tone
    'warm-casual'

Validation, translation and storage run in the component; this module only gives them
Python shapes (frozen dataclasses, enums, a builder). `AttunedClient` and
`SyncAttunedClient` (`agentcell.attune.client`) talk to the HTTP service.
"""

from __future__ import annotations

from typing import Any

from ._infer import AxisEstimate, InferenceEngine, InferredState, LinguisticFeatures
from ._model import (
    BASE_GUIDELINES,
    NEUTRAL,
    AxisDefinition,
    Category,
    Deprecation,
    PromptContext,
    RuleTranslator,
    Source,
    StateSnapshot,
    StateSnapshotBuilder,
    StateStore,
    Thresholds,
    Verbosity,
    get_all_axes,
    get_axis,
    get_axis_names,
    is_valid_axis_name,
)
from ._presets import Attuned, Presets
from .client import AttunedClient, SyncAttunedClient

__all__ = [
    "BASE_GUIDELINES",
    "CANONICAL_AXES",
    "NEUTRAL",
    "Attuned",
    "AttunedClient",
    "AxisDefinition",
    "AxisEstimate",
    "Category",
    "Deprecation",
    "InferenceEngine",
    "InferredState",
    "LinguisticFeatures",
    "Presets",
    "PromptContext",
    "RuleTranslator",
    "Source",
    "StateSnapshot",
    "StateSnapshotBuilder",
    "StateStore",
    "SyncAttunedClient",
    "Thresholds",
    "Verbosity",
    "get_all_axes",
    "get_axis",
    "get_axis_names",
    "is_valid_axis_name",
]

CANONICAL_AXES: tuple[AxisDefinition, ...]  # provided by __getattr__ below


def __getattr__(name: str) -> Any:
    # CANONICAL_AXES comes from the component, loaded on first use.
    if name == "CANONICAL_AXES":
        return get_all_axes()
    raise AttributeError(f"module 'agentcell.attune' has no attribute {name!r}")
