"""agentcell.memory.AxiomValidator and CodeBaseCrawler: the seed 004 examples and the
documented formulas."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

import agentcell
from agentcell.memory import (
    AxiomError,
    AxiomValidator,
    CodeBaseCrawler,
    CrawlerError,
    HTMCore,
    InvalidRegistryError,
    Principle,
)


def test_seed_validator_example() -> None:
    validator = AxiomValidator()
    context = ["AX_LOVE_FORCE", "AX_EMPATHY_BRIDGE"]
    result = validator.validate_axiom("AX_NO_HARM", context)
    assert result["is_valid"] is True
    assert result["resonance_score"] == 1.0 and result["ethical_tension"] == 0.0
    batch = validator.validate_batch(["AX_NO_HARM", "AX_BENEFICENCE", "AX_AUTONOMY", "AX_JUSTICE"], context)
    assert batch["batch_valid"] is True
    assert [r["axiom_id"] for r in batch["results"]] == [
        "AX_NO_HARM",
        "AX_BENEFICENCE",
        "AX_AUTONOMY",
        "AX_JUSTICE",
    ]
    assert 0.45 <= batch["overall_resonance"] <= 1.0
    recommendations = validator.recommend_axioms("ethical decision making")
    assert recommendations and recommendations[0] in {"AX_JUSTICE", "AX_LOVE_FORCE"}
    with pytest.raises(AxiomError) as info:
        validator.validate_axiom("INVALID_AXIOM")
    assert isinstance(info.value, KeyError) and "INVALID_AXIOM" in str(info.value)


def test_formulas_are_the_documented_ones() -> None:
    v = AxiomValidator()
    # MOVE_FAST conflicts with SAFETY_FIRST and NO_HARM: every pair conflicts.
    assert v.calculate_tension(["AX_MOVE_FAST"], ["AX_SAFETY_FIRST", "AX_NO_HARM"]) == 1.0
    check = v.validate_axiom("AX_MOVE_FAST", ["AX_SAFETY_FIRST", "AX_NO_HARM"])
    assert check["is_valid"] is False and len(check["reasons"]) == 2
    # related (1) + other category (0.25) + other category (0.25), over 3 pairs
    assert v.calculate_resonance(["AX_HONESTY", "AX_TRANSPARENCY", "AX_PRIVACY"]) == pytest.approx(0.5)
    assert v.calculate_resonance(["AX_HONESTY"]) == 1.0
    assert v.calculate_tension(["AX_HONESTY"]) == 0.0


def test_registry_is_extensible_and_checked() -> None:
    v = AxiomValidator()
    n = len(v)
    v.register(
        Principle(
            id="AX_FRUGAL",
            title="Spend little",
            statement="Prefer the cheapest sufficient compute for a task.",
            category="process",
            conflicts=("AX_MAXIMAL_CONTEXT",),
        )
    )
    assert len(v) == n + 1 and "AX_FRUGAL" in v and v.get("AX_FRUGAL").category == "process"
    assert v.recommend_axioms("cheapest compute")[0] == "AX_FRUGAL"
    assert v.calculate_tension(["AX_FRUGAL"], ["AX_MAXIMAL_CONTEXT"]) == 1.0
    with pytest.raises(InvalidRegistryError) as info:
        v.register(Principle(id="AX_BAD", title="", statement="", category="x", related=("AX_NOPE",)))
    assert info.value.field is not None and info.value.field.endswith(".related")
    assert "AX_BAD" not in v
    own = AxiomValidator(
        [Principle("A", "a", "first", "c"), Principle("B", "b", "second", "c")], include_defaults=False
    )
    assert own.calculate_resonance(["A", "B"]) == 0.5


def make_tree(root: Path) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "core.py").write_text("def f(x):\n    if x:\n        return 1\n    return 0\n")
    (root / "pkg" / "util.py").write_text("def parse_request(req):\n    return req\n")
    (root / "pkg" / "test_core.py").write_text("def test_f():\n    assert True\n")
    (root / "src").mkdir()
    (root / "src" / "lib.rs").write_text("fn main() {\n    if a && b { }\n}\n")
    (root / "build").mkdir()
    (root / "build" / "generated.py").write_text("x = 1\n")
    (root / "notes.log").write_text("log\n")
    (root / "blob.bin").write_bytes(b"\x00\x01binary")
    (root / ".gitignore").write_text("build/\n*.log\n")


def test_crawl_respects_gitignore_patterns_and_reports_progress(tmp_path: Path) -> None:
    make_tree(tmp_path / "repo")
    htm = HTMCore(tmp_path / "htm", dimension=256)
    crawler = CodeBaseCrawler(htm)
    progress: list[tuple[int, int, str]] = []
    results = crawler.crawl_directory(
        tmp_path / "repo",
        include_patterns=["*.py", "*.rs"],
        exclude_patterns=["*test*"],
        progress_callback=lambda done, total, path: progress.append((done, total, path)),
    )
    paths = [r["path"] for r in results]
    assert paths == ["pkg/core.py", "pkg/util.py", "src/lib.rs"]
    core = results[0]["metadata"]
    assert core["language"] == "python" and core["line_count"] == 4 and core["functions"] == 1
    assert core["complexity_score"] == 2.0
    assert results[2]["metadata"]["language"] == "rust" and results[2]["metadata"]["branches"] == 2
    assert progress[-1][:2] == (3, 3) and len(progress) == 3
    assert sorted(htm.keys()) == paths
    stored = htm.get_embedding("pkg/util.py")
    assert stored is not None and stored["metadata"]["language"] == "python"
    # Everything else: the binary file is skipped, ignored files never read.
    crawler.crawl_directory(tmp_path / "repo", extract_embeddings=False)
    assert [p for p, _ in crawler.skipped] == ["blob.bin"]


def test_crawl_with_a_host_embedder_and_async(tmp_path: Path) -> None:
    make_tree(tmp_path / "repo")
    htm = HTMCore(":memory:", dimension=8)
    calls: list[int] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return np.array([[len(t), 1, 2, 3, 4, 5, 6, 7] for t in texts], dtype=np.float64)

    crawler = CodeBaseCrawler(htm, embedder=embed)
    results = asyncio.run(crawler.crawl_directory_async(tmp_path / "repo", include_patterns=["*.py"]))
    assert len(results) == 3 and calls == [3]
    got = htm.get_embedding("pkg/core.py")
    assert got is not None and got["embedding"][0] == len((tmp_path / "repo/pkg/core.py").read_text())


def test_crawler_errors_and_analyze_file(tmp_path: Path) -> None:
    crawler = CodeBaseCrawler(HTMCore(":memory:", dimension=16))
    with pytest.raises(CrawlerError):
        crawler.crawl_directory(tmp_path / "missing")
    f = tmp_path / "a.ts"
    f.write_text("function f(a) { return a ? 1 : 2 }\n")
    m = crawler.analyze_file(f)
    assert m["language"] == "typescript" and m["branches"] == 1
    with pytest.raises(CrawlerError):
        crawler.analyze_file(tmp_path)
    assert issubclass(CrawlerError, agentcell.AgentcellError)


def test_lexical_embeddings_relate_shared_vocabulary() -> None:
    htm = HTMCore(":memory:", dimension=256)
    rt = htm.runtime
    from agentcell.memory._vectors import from_hex

    a = from_hex(rt.call_ok("code-analysis", "lexical-embedding", "def parse_request(req): pass", 256))
    b = from_hex(rt.call_ok("code-analysis", "lexical-embedding", "def parseRequest(request): pass", 256))
    c = from_hex(rt.call_ok("code-analysis", "lexical-embedding", "SELECT name FROM users", 256))
    assert float(a @ b) > float(a @ c)
    assert float(np.linalg.norm(a)) == pytest.approx(1.0, abs=1e-5)


def test_code_memory_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from .conftest import REPO

    sys.path.insert(0, str(REPO))
    from examples.code_memory import main

    hits = main(["--data", str(tmp_path / "mem"), "--query", "sqlite transaction rollback commit journal"])
    out = capsys.readouterr()
    assert "storage/sqlite.py" in hits
    assert "crawled" in out.out and "##" in out.err
