"""A program written against upstream's `attuned` package (PyPI `attuned` 1.0.2), with
only its import changed: every name below is upstream's, used as upstream documents it."""

from __future__ import annotations

import json
import struct

import pytest

from agentcell.attune import (  # was: from attuned import ...
    CANONICAL_AXES,
    Attuned,
    AttunedClient,
    AxisDefinition,
    Presets,
    PromptContext,
    RuleTranslator,
    Source,
    StateSnapshot,
    SyncAttunedClient,
    Thresholds,
    Verbosity,
    get_all_axes,
    get_axis,
    get_axis_names,
    is_valid_axis_name,
)

from .conftest import KEY, Server


def f32_above(x: float) -> float:
    """The f32 one ulp above `x`'s f32."""
    bits = struct.unpack("I", struct.pack("f", x))[0]
    return float(struct.unpack("f", struct.pack("I", bits + 1))[0])


def f32_below(x: float) -> float:
    bits = struct.unpack("I", struct.pack("f", x))[0]
    return float(struct.unpack("f", struct.pack("I", bits - 1))[0])


def test_the_seed_example() -> None:
    snapshot = (
        StateSnapshot.builder()
        .user_id("user_123")
        .source(Source.SELF_REPORT)
        .axis("warmth", 0.75)
        .axis("cognitive_load", 0.9)
        .build()
    )
    context = RuleTranslator().to_prompt_context(snapshot)
    assert context.guidelines[0] == "Offer suggestions, not actions"
    assert context.guidelines[:1] == ["Offer suggestions, not actions"]  # a list, as upstream's
    assert isinstance(context.flags, list)
    assert context.tone == "warm-casual"
    assert context.verbosity is Verbosity.MEDIUM
    axis = get_axis("cognitive_load")
    assert axis is not None and axis.intent and axis.forbidden_uses
    assert len(CANONICAL_AXES) == 23


def test_axis_helpers() -> None:
    names = get_axis_names()
    assert len(names) == 23 and names[0] == "cognitive_load"
    assert [a.name for a in get_all_axes()] == names
    assert get_axis("not_an_axis") is None
    assert is_valid_axis_name("mood") and is_valid_axis_name("warmth")
    assert not is_valid_axis_name("Mood") and not is_valid_axis_name("_mood") and not is_valid_axis_name("")
    summary = get_axis("warmth").format_summary()  # type: ignore[union-attr]
    assert summary.startswith("warmth (social): ") and "never for:" in summary
    for axis in get_all_axes():
        assert isinstance(axis, AxisDefinition)
        assert len(axis.intent) >= 3 and len(axis.forbidden_uses) >= 3, axis.name


def test_snapshot_accessors_and_json() -> None:
    s = StateSnapshot.builder().user_id("u-1").axis("warmth", 0.8).axis("mood", 0.1).build()
    assert s.get_axis("warmth") == pytest.approx(0.8)
    assert s.get_axis("formality") == 0.5  # neutral when not given
    assert s.get_axis_opt("formality") is None
    assert s.get_axis_opt("mood") == pytest.approx(0.1)  # a custom axis is kept
    assert json.loads(s.to_json())["source"] == "self_report"
    assert StateSnapshot.from_json(s.to_json()) == s
    context = RuleTranslator().to_prompt_context(s)
    assert PromptContext.from_json(context.to_json()) == context
    block = context.format_for_prompt()
    assert "- Offer suggestions, not actions" in block and "Tone: " in block


def test_thresholds_and_the_convenience_api() -> None:
    s = StateSnapshot.builder().user_id("u").axis("warmth", 0.65).build()
    assert RuleTranslator().to_prompt_context(s).tone == "calm-neutral"
    assert RuleTranslator(Thresholds(hi=0.6, lo=0.4)).to_prompt_context(s).tone == "warm-casual"
    assert RuleTranslator(thresholds=Thresholds(hi=0.6, lo=0.4)).thresholds.hi == 0.6
    assert Attuned("ana", warmth=0.9, cognitive_load=0.9).context().flags == ["high_cognitive_load"]
    assert "## Interaction guidelines" in Attuned(warmth=0.2).prompt()
    presets = ["anxious_user", "busy_executive", "learning_student", "casual_chat"]
    presets += ["high_stakes", "overwhelmed", "privacy_conscious"]
    for preset in presets:
        context = getattr(Presets, preset)().context()
        assert len(context.guidelines) > 3, preset


EDGES = [
    ("warmth", 0.7),
    ("verbosity_preference", 0.7),
    ("verbosity_preference", 0.3),
    ("cognitive_load", 0.7),
]


@pytest.mark.parametrize(("axis", "threshold"), EDGES)
def test_values_one_ulp_either_side_of_a_threshold_cross_unchanged(axis: str, threshold: float) -> None:
    translator = RuleTranslator()
    at = translator.to_prompt_context(Attuned(**{axis: threshold}).snapshot)
    above = translator.to_prompt_context(Attuned(**{axis: f32_above(threshold)}).snapshot)
    below = translator.to_prompt_context(Attuned(**{axis: f32_below(threshold)}).snapshot)
    if threshold > 0.5:
        assert above != at and below == at, "strictly above hi fires, at or below does not"
    else:
        assert below != at and above == at, "strictly below lo fires, at or above does not"
    # The batch path (JSON) agrees with the one-at-a-time path.
    batch = translator.to_prompt_contexts([Attuned(**{axis: f32_above(threshold)}).snapshot])
    assert batch == [above]


def test_the_clients_as_upstreams(server: Server) -> None:
    snapshot = StateSnapshot.builder().user_id("ana").axis("warmth", 0.9).build()
    with SyncAttunedClient(server.base, api_key=KEY) as client:
        assert client.health() is True
        assert client.get_state("ana") is None
        client.upsert_state(snapshot)
        got = client.get_state("ana")
        assert got is not None and got.get_axis("warmth") == snapshot.get_axis("warmth")
        assert client.translate(snapshot) == client.get_context("ana")
        assert client.delete_state("ana") is True

    async def main() -> None:
        async with AttunedClient(server.base, api_key=KEY) as client:
            assert await client.health() is True
            assert await client.get_state("ana") is None
            await client.upsert_state(snapshot)
            assert (await client.get_context("ana")).tone == "warm-casual"
            assert await client.delete_state("ana") is True

    import asyncio

    asyncio.run(main())


def test_a_value_a_hair_above_a_threshold_agrees_across_python_the_component_and_the_server(
    server: Server,
) -> None:
    value = f32_above(0.7)
    assert value == 0.7000000476837158
    snapshot = StateSnapshot.builder().user_id("edge").axis("warmth", value).build()
    assert RuleTranslator().to_prompt_context(snapshot).tone == "warm-casual"
    with SyncAttunedClient(server.base, api_key=KEY) as client:
        client.upsert_state(snapshot)
        assert client.get_context("edge").tone == "warm-casual"
