"""Every async twin in the public API takes exactly its sync twin's parameters."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import agentcell
import agentcell.attune
import agentcell.memory

MODULES: tuple[ModuleType, ...] = (agentcell, agentcell.attune, agentcell.memory)


def _public(obj: Any) -> Iterator[tuple[str, Any]]:
    for name in dir(obj):
        if not name.startswith("_"):
            yield name, getattr(obj, name)


def _twins() -> Iterator[tuple[str, Any, Any]]:
    seen: set[int] = set()
    for module in MODULES:
        for name, obj in _public(module):
            if inspect.isclass(obj) and id(obj) not in seen:
                seen.add(id(obj))
                members = dict(inspect.getmembers(obj))
                for mname, member in members.items():
                    if mname.endswith("_async") and mname[: -len("_async")] in members:
                        yield f"{obj.__name__}.{mname}", members[mname[: -len("_async")]], member
            elif callable(obj) and name.endswith("_async"):
                yield f"{module.__name__}.{name}", getattr(module, name[: -len("_async")]), obj


def _params(fn: Any) -> list[tuple[str, Any, Any, Any]]:
    return [(p.name, p.kind, p.default, p.annotation) for p in inspect.signature(fn).parameters.values()]


def test_every_async_twin_takes_its_sync_twins_parameters() -> None:
    pairs = list(_twins())
    names = {n for n, _, _ in pairs}
    # The twins that exist today must all be found (so the walk itself is tested).
    assert {
        "agentcell.probe_url_async",
        "HTMCore.store_embedding_async",
        "HTMCore.store_embeddings_async",
        "HTMCore.get_embedding_async",
        "HTMCore.search_similar_async",
        "HTMCore.query_by_resonance_async",
        "CodeBaseCrawler.crawl_directory_async",
    } <= names
    for name, sync, twin in pairs:
        assert inspect.iscoroutinefunction(twin), name
        assert _params(twin) == _params(sync), name


def test_the_async_and_sync_attuned_clients_have_the_same_methods() -> None:
    from agentcell.attune import AttunedClient, SyncAttunedClient

    for name, method in _public(AttunedClient):
        if name == "aclose":
            continue
        assert inspect.iscoroutinefunction(method), name
        assert _params(method) == _params(getattr(SyncAttunedClient, name)), name
