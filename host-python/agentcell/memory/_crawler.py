"""`CodeBaseCrawler`: walks a directory the caller grants, measures each file in the
component (language, lines, functions, branches, complexity) and stores an embedding
per file in an `HTMCore` (seed 004).

Embeddings come from `embedder` when given (any callable taking a list of texts and
returning one vector per text, e.g. a sentence-transformers model's ``encode``), and
otherwise from the component's lexical embedding: hashed identifier tokens and
bigrams. The lexical embedding finds files that share vocabulary, not meaning.

`.gitignore` files are respected (every one found, each relative to its directory,
with git's pattern rules via `pathspec`); `.git` is never entered. Include and exclude
patterns are shell globs matched against the path relative to the crawl root and
against the file name. A symbolic link is followed only when it stays inside the crawl
root, unless `follow_symlinks=True`; one that leads out is skipped (see `skipped`).
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._twins import async_twin
from ..errors import AgentcellError
from ._htm import HTMCore
from ._vectors import as_matrix, from_hex
from .exceptions import CrawlerError

__all__ = ["CodeBaseCrawler", "Embedder", "ProgressCallback"]

#: Called after each file: (files done, files in all, relative path).
ProgressCallback = Callable[[int, int, str], None]
#: Texts in, one vector per text out.
Embedder = Callable[[list[str]], Any]

BATCH_FILES = 64


def _matches(rel: str, patterns: Sequence[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


class _GitIgnores:
    """Every .gitignore under the root, each applied to paths below its directory."""

    def __init__(self) -> None:
        try:
            import pathspec
        except ModuleNotFoundError:
            raise CrawlerError(
                "reading .gitignore files needs the pathspec package: pip install 'agentcell[memory]' "
                "(or pass respect_gitignore=False)"
            ) from None
        self._pathspec = pathspec
        self._specs: list[tuple[str, Any]] = []

    def load(self, directory: Path, rel_dir: str) -> None:
        f = directory / ".gitignore"
        if f.is_file():
            lines = f.read_text(encoding="utf-8", errors="replace").splitlines()
            self._specs.append((rel_dir, self._pathspec.GitIgnoreSpec.from_lines(lines)))

    def ignored(self, rel: str, is_dir: bool) -> bool:
        for base, spec in self._specs:
            if base and not rel.startswith(base + "/"):
                continue
            sub = rel[len(base) + 1 :] if base else rel
            if spec.match_file(sub + "/" if is_dir else sub):
                return True
        return False


class CodeBaseCrawler:
    """Crawls source trees into an `HTMCore`.

    >>> crawler = CodeBaseCrawler(HTMCore("./data/htm"))       # doctest: +SKIP
    >>> results = crawler.crawl_directory("./src", include_patterns=["*.py"])  # doctest: +SKIP
    >>> results[0]["metadata"]["complexity_score"]            # doctest: +SKIP
    2.5
    """

    def __init__(
        self,
        htm_core: HTMCore,
        *,
        embedder: Embedder | None = None,
        max_file_bytes: int = 1_000_000,
        respect_gitignore: bool = True,
        follow_symlinks: bool = False,
    ) -> None:
        """`embedder`: texts in, one vector per text out (default: the lexical embedding).
        Files over `max_file_bytes` are skipped; `follow_symlinks` lets links lead out of
        the crawl root."""
        if not isinstance(htm_core, HTMCore):
            raise TypeError(f"htm_core: must be an HTMCore, got {type(htm_core).__name__}")
        self.htm = htm_core
        self.embedder = embedder
        self.max_file_bytes = max_file_bytes
        self.respect_gitignore = respect_gitignore
        self.follow_symlinks = follow_symlinks
        #: Files the last crawl could not read or skipped as binary or too large.
        self.skipped: list[tuple[str, str]] = []

    def _walk(
        self, root: Path, include: Sequence[str] | None, exclude: Sequence[str]
    ) -> list[tuple[str, Path]]:
        ignores = _GitIgnores() if self.respect_gitignore else None
        files: list[tuple[str, Path]] = []
        inside = root.resolve()

        def leaves_root(path: Path, rel: str) -> bool:
            """A link that leads out of the root, unless links may: skipped, and said so."""
            if self.follow_symlinks or not path.is_symlink():
                return False
            target = path.resolve()
            if target == inside or inside in target.parents:
                return False
            self.skipped.append((rel, "a symbolic link out of the crawl root (follow_symlinks=False)"))
            return True

        seen: set[Path] = set()  # directories entered, so a link loop is walked once
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            here = Path(dirpath)
            real = here.resolve()
            if real in seen:
                dirnames[:] = []
                continue
            seen.add(real)
            rel_dir = here.relative_to(root).as_posix()
            rel_dir = "" if rel_dir == "." else rel_dir
            if ignores is not None:
                ignores.load(here, rel_dir)
            kept = []
            for d in sorted(dirnames):
                rel = f"{rel_dir}/{d}" if rel_dir else d
                if (
                    d == ".git"
                    or (ignores is not None and ignores.ignored(rel, True))
                    or _matches(rel, exclude)
                    or leaves_root(here / d, rel)
                ):
                    continue
                kept.append(d)
            dirnames[:] = kept
            for name in sorted(filenames):
                rel = f"{rel_dir}/{name}" if rel_dir else name
                if ignores is not None and ignores.ignored(rel, False):
                    continue
                if include is not None and not _matches(rel, include):
                    continue
                if _matches(rel, exclude) or leaves_root(here / name, rel):
                    continue
                files.append((rel, here / name))
        return files

    def _read(self, rel: str, path: Path) -> str | None:
        try:
            if path.stat().st_size > self.max_file_bytes:
                self.skipped.append((rel, f"larger than {self.max_file_bytes} bytes"))
                return None
            data = path.read_bytes()
        except OSError as e:
            self.skipped.append((rel, str(e)))
            return None
        if b"\0" in data[:8192]:
            self.skipped.append((rel, "binary"))
            return None
        return data.decode("utf-8", errors="replace")

    def _analyze(self, batch: list[tuple[str, str]]) -> list[dict[str, Any]]:
        try:
            out = self.htm.runtime.exports.code_analysis.analyze_batch(json.dumps(batch))
        except AgentcellError as e:
            raise CrawlerError(f"analysis failed: {e}") from e
        metrics: list[dict[str, Any]] = json.loads(out)
        return metrics

    def _embed(self, texts: list[str]) -> Any:
        if self.embedder is not None:
            vectors = as_matrix(self.embedder(texts), "embedder output")
            if vectors.shape[0] != len(texts):
                raise CrawlerError(f"the embedder returned {vectors.shape[0]} vectors for {len(texts)} texts")
            return vectors
        hex_rows = self.htm.runtime.call_ok(
            "code-analysis", "lexical-embeddings", json.dumps(texts), self.htm.dimension
        )
        return from_hex(hex_rows).reshape(len(texts), self.htm.dimension)

    def crawl_directory(
        self,
        path: str | os.PathLike[str],
        include_patterns: Sequence[str] | None = None,
        exclude_patterns: Sequence[str] | None = None,
        extract_embeddings: bool = True,
        progress_callback: ProgressCallback | None = None,
    ) -> list[dict[str, Any]]:
        """Measures every granted file under `path`; with `extract_embeddings`, stores an
        embedding per file in the `HTMCore` under its relative path, with the measures
        as metadata. Returns ``[{"path", "metadata": {...}, "embedded"}]`` in path order."""
        root = Path(path)
        if not root.is_dir():
            raise CrawlerError(f"not a directory: {str(root)!r}")
        self.skipped = []
        files = self._walk(root, include_patterns, list(exclude_patterns or ()))
        results: list[dict[str, Any]] = []
        done = 0
        for start in range(0, len(files), BATCH_FILES):
            batch = []
            for rel, p in files[start : start + BATCH_FILES]:
                text = self._read(rel, p)
                if text is not None:
                    batch.append((rel, text))
            if batch:
                metrics = self._analyze(batch)
                for (rel, _), m in zip(batch, metrics, strict=True):
                    m["path"] = rel
                if extract_embeddings:
                    vectors = self._embed([t for _, t in batch])
                    self.htm.store_embeddings([rel for rel, _ in batch], np.asarray(vectors), metrics)
                for (rel, _), m in zip(batch, metrics, strict=True):
                    results.append({"path": rel, "metadata": m, "embedded": extract_embeddings})
            for rel, _ in files[start : start + BATCH_FILES]:
                done += 1
                if progress_callback is not None:
                    progress_callback(done, len(files), rel)
        return results

    crawl_directory_async = async_twin(crawl_directory)

    def analyze_file(self, file_path: str | os.PathLike[str]) -> dict[str, Any]:
        """The measures of one file (nothing is stored)."""
        p = Path(file_path)
        if not p.is_file():
            raise CrawlerError(f"not a file: {str(p)!r}")
        self.skipped = []
        text = self._read(p.name, p)
        if text is None:
            raise CrawlerError(f"cannot analyse {str(p)!r}: {self.skipped[-1][1]}")
        metrics = self._analyze([(p.as_posix(), text)])[0]
        metrics["path"] = p.as_posix()
        return metrics
