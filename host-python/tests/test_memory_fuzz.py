"""A fuzz test of the public memory API (hypothesis): any input either works or raises
one of the documented exceptions (`ValidationError`, a `ValueError`; `TypeError` for a
value of the wrong kind), and the store stays consistent with what was acknowledged."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentcell.memory import HTMCore, ValidationError

DIM = 4
DOCUMENTED = (ValidationError, TypeError)

keys = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "a", "\ud800", "x" * 1025, "é/ü", "k\x00"]),
    st.integers(),
    st.none(),
)
floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.integers(-(10**6), 10**6))
embeddings = st.one_of(
    st.lists(floats, min_size=DIM, max_size=DIM),
    st.lists(floats, max_size=6),
    st.lists(st.lists(floats, min_size=DIM, max_size=DIM), min_size=1, max_size=2),
    st.just([0.0] * DIM),
    st.text(max_size=4),
    st.none(),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
metadatas = st.one_of(
    st.none(),
    st.dictionaries(st.text(max_size=6), json_values, max_size=3),
    st.just({"s": {1, 2}}),
    st.just({"n": math.nan}),
    st.just([1, 2]),
    st.just("meta"),
)
limits = st.one_of(st.integers(-3, 20), st.just(10**12), st.just("5"), st.just(True), st.floats(0, 5))
filters = st.one_of(st.none(), st.dictionaries(st.text(max_size=4), json_values, max_size=2), st.just([1]))

ops = st.lists(
    st.one_of(
        st.tuples(st.just("store"), keys, embeddings, metadatas),
        st.tuples(st.just("search"), embeddings, limits, filters),
        st.tuples(st.just("delete"), keys),
        st.tuples(st.just("get"), keys),
    ),
    max_size=12,
)


F32_MAX, F32_TINY = float(np.finfo(np.float32).max), float(np.finfo(np.float32).tiny)


def valid_vector(value: Any) -> bool | None:
    """Whether the store must take `value`: one row of DIM finite numbers whose f32 length
    neither overflows nor underflows (the store's documented rule); None near those edges,
    where the order of an f32 sum decides."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return False
    if a.shape not in ((DIM,), (1, DIM)) or not np.isfinite(a).all():
        return False
    a32 = a.astype(np.float32).astype(np.float64)
    if not np.isfinite(a32).all():
        return False  # beyond f32
    squares = float(np.sum(a32 * a32))
    if squares == 0.0 and not a32.any():
        return False
    if squares > F32_MAX / 4 or squares < F32_TINY * 4:
        return None
    return True


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_any_input_works_or_is_a_documented_error_and_the_store_stays_consistent(script: list[Any]) -> None:
    htm = HTMCore(":memory:", dimension=DIM, partitions=2)
    model: dict[str, Any] = {}
    try:
        for op in script:
            try:
                if op[0] == "store":
                    _, key, embedding, metadata = op
                    htm.store_embedding(key, embedding, metadata)
                    model[key] = metadata if metadata is not None else {}
                elif op[0] == "search":
                    _, query, limit, where = op
                    hits = htm.search_similar(query, limit, -1.0, filter=where)
                    assert len(hits) <= int(limit) and all(k in model for k, _, _ in hits)
                elif op[0] == "delete":
                    existed = htm.delete_embedding(op[1])
                    assert existed == (op[1] in model)
                    model.pop(op[1], None)
                else:
                    entry = htm.get_embedding(op[1])
                    assert (entry is not None) == (op[1] in model)
            except DOCUMENTED:
                pass
        # Whatever was refused, what was acknowledged is all there is.
        assert htm.get_memory_stats()["entries"] == len(model)
        for key, metadata in model.items():
            entry = htm.get_embedding(key)
            assert entry is not None and entry["metadata"] == metadata
    finally:
        htm.close()


@given(embeddings)
@settings(max_examples=60, deadline=None)
def test_an_embedding_is_stored_exactly_when_it_is_a_valid_vector(embedding: Any) -> None:
    with HTMCore(":memory:", dimension=DIM, partitions=1) as htm:
        try:
            htm.store_embedding("k", embedding)
            stored = True
        except DOCUMENTED:
            stored = False
        expected = valid_vector(embedding)
        assert expected is None or stored == expected
        assert (htm.get_embedding("k") is not None) == stored
