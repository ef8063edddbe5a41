"""Inference from text (`agentcell.attune.InferenceEngine`), in process and through the
service."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

import agentcell
from agentcell.attune import (
    InferenceEngine,
    InferredState,
    LinguisticFeatures,
    Source,
    StateSnapshot,
    StateStore,
)

from .conftest import Server

ANXIOUS = "I'm so worried and scared, maybe I did everything wrong? I'm not sure at all."
CALM = "The quarterly report is attached for your review."


def test_features_and_estimates_as_documented() -> None:
    engine = InferenceEngine()
    f = engine.extract_features("I think I'm worried. Please help me now! Is it ALWAYS like this?")
    assert isinstance(f, LinguisticFeatures)
    assert (f.word_count, f.sentence_count, f.hedge_count, f.negative_emotion_count) == (13, 3, 1, 1)
    anxious, calm = engine.infer(ANXIOUS), engine.infer(CALM)
    a, c = anxious.get("anxiety_level"), calm.get("anxiety_level")
    assert a is not None and c is not None and a.value > c.value + 0.3
    for e in anxious.estimates:
        assert e.source == "inferred" and e.features and 0 < e.confidence <= 0.7
    assert anxious.get("warmth") is None


@pytest.mark.parametrize("cap", [0.7, 0.5, 0.2, 1.0])
def test_confidence_never_exceeds_the_cap(cap: float) -> None:
    engine = InferenceEngine(confidence_cap=cap)
    cap = struct.unpack("f", struct.pack("f", cap))[0]  # the cap crosses as an f32
    rng = random.Random(7)
    words = ["worried", "now", "please", "I", "maybe", "ALWAYS", "report", "!", "?", "."]
    for _ in range(50):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 400)))
        assert all(e.confidence <= cap for e in engine.infer(text).estimates)
    history = InferredState([])
    for _ in range(20):
        history = engine.combine(history, engine.infer(ANXIOUS))
    assert all(e.confidence <= cap for e in history.estimates)


def test_empty_huge_and_wrong_inputs() -> None:
    engine = InferenceEngine()
    assert engine.infer("").estimates == []
    huge = "ü€😀 " * (1024 * 1024 // 12)
    assert len(huge.encode()) <= 1024 * 1024 and engine.infer(huge).estimates
    with pytest.raises(agentcell.InvalidArgumentError, match="text"):
        engine.infer("a" * (1024 * 1024 + 1))
    with pytest.raises(TypeError):
        engine.infer(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        engine.infer_batch("one string")
    with pytest.raises(agentcell.InvalidArgumentError, match="confidence_cap"):
        InferenceEngine(confidence_cap=1.5).infer("x")
    assert engine.infer(CALM) == engine.infer(CALM), "deterministic"


def test_batches_answer_as_single_calls_and_history_combines() -> None:
    engine = InferenceEngine()
    texts = [ANXIOUS, CALM, "", "Fix this now! Urgent!"]
    assert engine.infer_batch(texts) == [engine.infer(t) for t in texts]
    first, second = engine.infer(ANXIOUS), engine.infer(ANXIOUS + " Please help.")
    both = engine.combine(first, second)
    for e in both.estimates:
        before = first.get(e.axis)
        assert before is not None and e.variance <= before.variance
    deltas = engine.deltas(engine.infer(CALM), engine.infer(ANXIOUS))
    assert deltas["anxiety_level"] > 0.3


def test_a_self_report_always_overrides_an_inference(tmp_path: Path) -> None:
    store = StateStore(agentcell.Runtime(tmp_path / "a.db"))
    said = StateSnapshot.builder().user_id("ana").axis("anxiety_level", 0.1).build()
    store.upsert_state(said)
    inferred = InferenceEngine().infer(ANXIOUS).to_snapshot("ana")
    assert inferred.source is Source.INFERRED
    merged = store.upsert_state(inferred)
    assert merged.get_axis("anxiety_level") == said.get_axis("anxiety_level")
    assert merged.get_axis_opt("urgency_sensitivity") is not None
    assert merged.source is Source.MIXED


def test_the_service_infers_and_stores_a_message(server: Server) -> None:
    status, body, _ = server.request("POST", "/v1/infer", {"message": ANXIOUS})
    assert status == 200 and body["features"]["negative_emotion_count"] >= 2
    assert {e["axis"] for e in body["estimates"]} >= {"anxiety_level", "formality"}
    assert all(e["confidence"] <= 0.7 and e["source"] == "inferred" for e in body["estimates"])
    state = {"user_id": "ana", "axes": {"anxiety_level": 0.1}, "message": ANXIOUS}
    assert server.request("POST", "/v1/state", state)[0] == 204
    status, stored, _ = server.request("GET", "/v1/state/ana")
    assert stored["axes"]["anxiety_level"] == 0.1 and "urgency_sensitivity" in stored["axes"]
    assert server.request("POST", "/v1/infer", {"text": "x"})[0] == 422
