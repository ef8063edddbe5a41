"""Bad plain arguments of the public API (issue 18): typed errors that name the argument,
raised before anything reaches the component; list parameters refuse a bare string; the
crawler keeps to its root; a reopened store keeps its layout."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from agentcell.memory import ValidationError


def test_search_arguments_are_checked_before_the_component() -> None:
    from agentcell.memory import HTMCore

    htm = HTMCore(":memory:", dimension=3)
    htm.store_embedding("a", np.array([1.0, 0.0, 0.0]), {"lang": "py"})
    q = np.array([1.0, 0.0, 0.0])
    for kwargs, match in (
        ({"limit": -1}, r"limit: must be in 1..=10000, got -1"),
        ({"limit": 10**12}, r"limit: must be in 1..=10000"),
        ({"limit": "5"}, r"limit: must be an integer, got str"),
        ({"limit": True}, r"limit: must be an integer, got bool"),
        ({"filter": [1]}, r"filter: must be a mapping"),
        ({"filter": {"a": {1}}}, r"filter: every value must be JSON"),
        ({"min_similarity": "high"}, r"min_similarity: must be a number"),
        ({"probes": 0}, r"probes: must be in 1"),
    ):
        with pytest.raises(ValidationError, match=match):
            htm.search_similar(q, **kwargs)
    with pytest.raises(ValidationError, match="lone surrogate at index 1"):
        htm.store_embedding("a\ud800", q)
    with pytest.raises(ValidationError, match="keys: must be a sequence of keys"):
        htm.delete_embeddings("a")
    assert (
        htm.get_embedding("a") is not None
        and htm.search_similar(q, limit=1, filter={"lang": "py"})[0][0] == "a"
    )


def test_a_bare_string_where_a_list_belongs_is_a_type_error() -> None:
    from agentcell import HttpPolicy
    from agentcell.memory import AxiomValidator

    with pytest.raises(TypeError, match=r"allow: must be a list of strings, not one string"):
        HttpPolicy(allow="api.example.com")
    assert HttpPolicy(allow=["api.example.com"]).permits("https://api.example.com/x")
    validator = AxiomValidator()
    axiom = validator.principles[0].id
    with pytest.raises(TypeError, match=r"context_axioms: must be a list of strings"):
        validator.validate_axiom(axiom, axiom)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"axiom_ids\[1\]: must be a string, got int"):
        validator.validate_batch([axiom, 3])  # type: ignore[list-item]
    assert validator.validate_axiom(axiom, [axiom])["axiom_id"] == axiom


def test_an_existing_stores_recorded_shard_count_wins_unless_contradicted(tmp_path: Any) -> None:
    from agentcell.memory import HTMCore

    with HTMCore(tmp_path, shard_count=8, dimension=3) as htm:
        htm.store_embedding("a", np.array([1.0, 0.0, 0.0]))
    with HTMCore(tmp_path, dimension=3) as again:  # the seed's snippets, in sequence
        assert again.shard_count == 8 and again.get_embedding("a") is not None
    with pytest.raises(ValidationError, match="created with shard_count 8, not 4"):
        HTMCore(tmp_path, shard_count=4, dimension=3)
    with HTMCore(tmp_path / "new", dimension=3) as fresh:
        assert fresh.shard_count == 4


def test_the_crawler_stays_inside_its_root_unless_told(tmp_path: Any) -> None:
    import os

    from agentcell.memory import CodeBaseCrawler, HTMCore

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("password = 'hunter2'\n")
    root = tmp_path / "root"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("def f():\n    return 1\n")
    os.symlink(outside / "secret.py", root / "leak.py")
    os.symlink(outside, root / "elsewhere")
    os.symlink(root / "pkg" / "a.py", root / "alias.py")  # inside the root: followed
    os.symlink(root, root / "pkg" / "loop")  # a loop: walked once
    crawler = CodeBaseCrawler(HTMCore(":memory:"), respect_gitignore=False)
    paths = [r["path"] for r in crawler.crawl_directory(root, extract_embeddings=False)]
    assert paths == ["alias.py", "pkg/a.py"]
    assert {rel for rel, _ in crawler.skipped} == {"leak.py", "elsewhere"}
    told = CodeBaseCrawler(HTMCore(":memory:"), respect_gitignore=False, follow_symlinks=True)
    paths = [r["path"] for r in told.crawl_directory(root, extract_embeddings=False)]
    assert "leak.py" in paths and "elsewhere/secret.py" in paths


def test_an_attuned_time_beyond_64_bits_is_a_validation_error() -> None:
    from agentcell import InvalidArgumentError, StateSnapshot

    builder = StateSnapshot.builder().user_id("u1")
    for bad, match in ((2**64, "signed 64-bit"), (-(2**63) - 1, "signed 64-bit"), ("soon", "integer")):
        with pytest.raises(InvalidArgumentError, match=match):
            builder.updated_at_unix_ms(bad)  # type: ignore[arg-type]
    assert builder.updated_at_unix_ms(2**63 - 1).build().updated_at_unix_ms == 2**63 - 1


def test_metadata_is_for_small_facts_and_nothing_is_stored_when_refused() -> None:
    from agentcell.memory import HTMCore

    htm = HTMCore(":memory:", dimension=3)
    with pytest.raises(ValidationError, match=r"entries\[1\]\.metadata: must be at most 65536 bytes"):
        htm.store_embeddings(["a", "b"], np.ones((2, 3)), [{"x": 1}, {"x": "y" * 10_000_000}])
    assert htm.get_embedding("a") is None  # the batch is whole or absent
    htm.store_embedding("a", np.ones(3), {"x": "y" * 60_000})
    assert len(htm.get_embedding("a")["metadata"]["x"]) == 60_000  # type: ignore[index]


def test_a_wrong_dimension_is_said_in_values_not_hex_digits() -> None:
    from agentcell.memory import HTMCore

    htm = HTMCore(":memory:", dimension=8, partitions=1)
    with pytest.raises(
        ValidationError, match=r"expected 2 embedding\(s\) of dimension 8, got 18 values \(dimension 9\)"
    ):
        htm.store_embeddings(["a", "b"], np.ones((2, 9)))
    with pytest.raises(ValidationError) as raised:
        htm.search_similar(np.ones(3))
    assert "hex" not in str(raised.value) and "rows of" not in str(raised.value)


def test_wrong_types_are_type_errors_not_attribute_errors() -> None:
    from agentcell import RuleTranslator
    from agentcell.memory import AxiomValidator, CodeBaseCrawler

    with pytest.raises(TypeError, match="snapshot: must be a StateSnapshot, got NoneType"):
        RuleTranslator().to_prompt_context(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"snapshots\[1\]: must be a StateSnapshot"):
        RuleTranslator().to_prompt_contexts([_snapshot(), "x"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="principle: must be a Principle, got str"):
        AxiomValidator().register("AX_NEW")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="htm_core: must be an HTMCore, got str"):
        CodeBaseCrawler("htm")  # type: ignore[arg-type]


def _snapshot() -> Any:
    from agentcell import StateSnapshot

    return StateSnapshot.builder().user_id("u1").axis("warmth", 0.9).build()
