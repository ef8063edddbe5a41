"""Seed 000 (Attuned) in-process: the seed's code as written, validation, governance,
translation and the state store."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest

import agentcell
from agentcell import (
    CANONICAL_AXES,
    PromptContext,
    RuleTranslator,
    Source,
    StateSnapshot,
    StateStore,
    Verbosity,
    get_axis,
)
from agentcell.attune import BASE_GUIDELINES as BASE


def test_the_seed_example_runs_as_written() -> None:
    snapshot = (
        StateSnapshot.builder()
        .user_id("user_123")
        .source(Source.SELF_REPORT)
        .axis("warmth", 0.7)
        .axis("cognitive_load", 0.9)
        .build()
    )
    translator = RuleTranslator()
    context = translator.to_prompt_context(snapshot)
    assert context.guidelines[0] == "Offer suggestions, not actions"
    assert "high_cognitive_load" in context.flags
    # Upstream semantics: high means strictly above 0.7, so warmth 0.7 is not warm.
    assert context.tone == "calm-neutral"
    assert context.verbosity is Verbosity.MEDIUM
    warm = StateSnapshot.builder().user_id("user_123").axis("warmth", 0.71).build()
    assert translator.to_prompt_context(warm).tone == "warm-casual"

    axis = get_axis("cognitive_load")
    assert axis.intent and axis.forbidden_uses
    assert len(CANONICAL_AXES) == 23
    assert {a.category.value for a in CANONICAL_AXES} == {
        "cognitive",
        "emotional",
        "social",
        "preferences",
        "control",
        "safety",
    }


def test_snapshot_is_normalised_and_frozen() -> None:
    s = StateSnapshot.builder().user_id("u").axis("warmth", 0.9).axis("anxiety_level", 0.2).build()
    assert list(s.axes) == ["anxiety_level", "warmth"]
    # Values are the f32s the component holds, unrounded: 0.9 reads back as 0.8999999761581421.
    assert s.axes["warmth"] == struct.unpack("f", struct.pack("f", 0.9))[0]
    assert s.updated_at_unix_ms > 1_700_000_000_000
    assert s.source is Source.SELF_REPORT and s.confidence == 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.user_id = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.axes["warmth"] = 0.1  # type: ignore[index]
    assert "warmth" in repr(s)


@pytest.mark.parametrize(
    ("builder", "field"),
    [
        (StateSnapshot.builder().user_id("u").axis("Mood", 0.5), "axes.Mood"),
        (StateSnapshot.builder().user_id("a b").axis("warmth", 0.5), "user_id"),
        (StateSnapshot.builder().user_id("a@b").axis("warmth", 0.5), "user_id"),
        (StateSnapshot.builder().user_id("u").axis("warmth", 1.2), "axes.warmth"),
        (StateSnapshot.builder().user_id("u").axis("warmth", float("nan")), "axes.warmth"),
        (StateSnapshot.builder().axis("warmth", 0.5), "user_id"),
        (StateSnapshot.builder().user_id("u").confidence(2), "confidence"),
    ],
)
def test_bad_snapshots_raise_value_errors_naming_the_field(builder: object, field: str) -> None:
    with pytest.raises(agentcell.InvalidArgumentError) as info:
        builder.build()  # type: ignore[attr-defined]
    assert isinstance(info.value, ValueError)
    assert info.value.field == field


def test_an_unknown_axis_has_no_definition_and_a_custom_one_is_kept() -> None:
    assert get_axis("mood") is None  # as upstream
    s = StateSnapshot.builder().user_id("u").axis("mood", 0.25).build()
    assert s.get_axis_opt("mood") == 0.25 and s.get_axis("warmth") == 0.5
    assert RuleTranslator().to_prompt_context(s).guidelines == list(BASE)


def test_thresholds_and_batches() -> None:
    s = StateSnapshot.builder().user_id("u").axis("warmth", 0.65).build()
    assert RuleTranslator().to_prompt_context(s).tone == "calm-neutral"
    assert RuleTranslator(hi=0.6, lo=0.4).to_prompt_context(s).tone == "warm-casual"
    with pytest.raises(agentcell.InvalidArgumentError, match="thresholds"):
        RuleTranslator(hi=0.2, lo=0.8).to_prompt_context(s)
    many = [
        StateSnapshot.builder().user_id(f"u{i}").axis("verbosity_preference", i / 10).build()
        for i in range(11)
    ]
    contexts = RuleTranslator().to_prompt_contexts(many)
    assert [c.verbosity for c in contexts] == [Verbosity.LOW] * 3 + [Verbosity.MEDIUM] * 5 + [
        Verbosity.HIGH
    ] * 3
    assert contexts == [RuleTranslator().to_prompt_context(s) for s in many]
    assert all(isinstance(c, PromptContext) and c.guidelines[:3] == list(BASE) for c in contexts)


def test_state_store_persists_and_merges(tmp_path: Path) -> None:
    db = tmp_path / "attune.db"
    store = StateStore(agentcell.Runtime(db))
    store.upsert_state(StateSnapshot.builder().user_id("ana").axis("warmth", 0.9).build())
    inferred = (
        StateSnapshot.builder()
        .user_id("ana")
        .source(Source.INFERRED)
        .axis("warmth", 0.1)
        .axis("cognitive_load", 0.9)
    )
    merged = store.upsert_state(inferred.build())
    assert merged.axes == pytest.approx({"cognitive_load": 0.9, "warmth": 0.9})
    assert merged.source is Source.MIXED

    reopened = StateStore(agentcell.Runtime(db))
    assert reopened.get_state("ana") == merged
    ctx = reopened.get_context("ana")
    assert ctx.tone == "warm-casual" and "high_cognitive_load" in ctx.flags
    assert reopened.delete_state("ana") is True
    with pytest.raises(agentcell.NotFoundError):
        reopened.get_state("ana")
    with pytest.raises(KeyError):
        reopened.get_context("ana")
