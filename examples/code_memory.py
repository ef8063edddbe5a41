"""Crawl a source tree into embedding memory, then ask it questions.

    .venv/bin/python examples/code_memory.py [DIR] [--query "parse http request"]

Every file under DIR (default: this repository's Python package) is measured by the
core and embedded (lexically, by default: shared vocabulary, not meaning), stored in
a persistent HTMCore under `agentcell-data/code-memory`, and searched. A progress bar
shows the crawl.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agentcell.memory import AxiomValidator, CodeBaseCrawler, HTMCore

ROOT = Path(__file__).resolve().parents[1]


def progress_bar(done: int, total: int, path: str) -> None:
    width = 30
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {path[-40:]:<40}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", nargs="?", default=str(ROOT / "host-python" / "agentcell"))
    parser.add_argument("--query", default="sqlite storage transaction")
    parser.add_argument("--data", default="agentcell-data/code-memory")
    args = parser.parse_args(argv)

    with HTMCore(args.data, shard_count=8, dimension=1024) as htm:
        crawler = CodeBaseCrawler(htm)
        results = crawler.crawl_directory(
            args.directory, exclude_patterns=["*__pycache__*"], progress_callback=progress_bar
        )
        print(f"crawled {len(results)} files; {len(htm)} in memory")
        worst = sorted(results, key=lambda r: -r["metadata"]["complexity_score"])[:3]
        for r in worst:
            m = r["metadata"]
            print(f"  complexity {m['complexity_score']:5.2f}  {m['line_count']:5d} lines  {r['path']}")
        rt = htm.runtime
        from agentcell.memory._vectors import from_hex

        query = from_hex(rt.call_ok("code-analysis", "lexical-embedding", args.query, htm.dimension))
        hits = htm.search_similar(query, limit=3, min_similarity=0.0)
        print(f"closest to {args.query!r}:")
        for path, similarity, meta in hits:
            print(f"  {similarity:.3f}  {path} ({meta['language']})")
        recommended = AxiomValidator().recommend_axioms("store personal data with consent")
        print(f"principles for 'store personal data with consent': {recommended}")
        return [p for p, _, _ in hits]


if __name__ == "__main__":
    main()
