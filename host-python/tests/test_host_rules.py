"""The shared host rules (`tests/host-rules/rules.json`) against the Python host's
storage backend and HTTP policy; the Rust and JS hosts run the same file."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentcell import HttpPolicy
from agentcell.storage import SQLiteStorage, StorageFailure

from .conftest import REPO

RULES = json.loads((REPO / "tests" / "host-rules" / "rules.json").read_text())


def _text(v: Any) -> str:
    return v["repeat"] * v["times"] if isinstance(v, dict) else str(v)


@pytest.mark.parametrize("case", RULES["keys"], ids=lambda c: repr(c)[:60])
def test_key_rules(case: dict[str, Any]) -> None:
    store = SQLiteStorage(":memory:")
    ns, key = _text(case["namespace"]), _text(case["key"])
    for write in (lambda: store.set(ns, key, "v"), lambda: store.set_many(ns, [(key, "v")])):
        if case["valid"]:
            write()
            assert store.get(ns, key) == "v"
        else:
            with pytest.raises(StorageFailure) as e:
                write()
            assert e.value.kind == "invalid-key"


@pytest.mark.parametrize("case", RULES["list_limits"], ids=lambda c: str(c["limit"]))
def test_list_limits(case: dict[str, Any]) -> None:
    store = SQLiteStorage(":memory:")
    if case["valid"]:
        assert store.list_keys("ns", "", None, case["limit"]) == ([], None)
    else:
        with pytest.raises(StorageFailure):
            store.list_keys("ns", "", None, case["limit"])


@pytest.mark.parametrize("case", RULES["allow"], ids=lambda c: f"{c['allow']}-{c['url']}")
def test_allow_list(case: dict[str, Any]) -> None:
    assert HttpPolicy(allow=case["allow"]).permits(case["url"]) is case["permitted"]
