"""Runs the cross-host conformance vectors (`tests/vectors/*.json`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import agentcell
from agentcell._wasm import Err, Ok, Resource

from .conftest import REPO

VECTORS = sorted((REPO / "tests" / "vectors").glob("*.json"))
CASES = [
    pytest.param(case, id=f"{path.stem}: {case['name']}")
    for path in VECTORS
    for case in json.loads(path.read_text())["cases"]
]


def to_json(value: Any) -> Any:
    """Python-lifted WIT value -> the vectors' JSON form."""
    if isinstance(value, bytes):
        return list(value)
    if isinstance(value, Resource):
        return "<resource>"
    if isinstance(value, dict):
        return {k.replace("_", "-"): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def test_vectors_exist() -> None:
    assert len(CASES) >= 15


def with_resources(args: list[Any], bound: dict[str, Resource]) -> list[Any]:
    """`{"resource": "s"}` arguments -> the resource bound as `s` by an earlier step."""
    return [bound[a["resource"]] if isinstance(a, dict) and list(a) == ["resource"] else a for a in args]


@pytest.mark.parametrize("case", CASES)
def test_vector(case: dict[str, Any]) -> None:
    rt = agentcell.Runtime(":memory:")
    bound: dict[str, Resource] = {}
    for step in case["steps"]:
        interface, name = step["call"].split(".", 1)
        expect = step["expect"]
        args = with_resources(step["args"], bound)
        if name.startswith("[resource-drop]"):
            rt.drop(args[0])
            assert expect == {"value": None}, step
            continue
        try:
            got = rt.call(interface, name, *args)
        except agentcell.ComponentTrap:
            assert expect == {"trap": True}, step
            continue
        if "value" in expect:
            assert to_json(got) == expect["value"], step
        elif "fields" in expect:
            record = to_json(got.value if isinstance(got, Ok) else got)
            assert {k: record[k] for k in expect["fields"]} == expect["fields"], step
        elif "ok" in expect:
            assert isinstance(got, Ok) and to_json(got.value) == expect["ok"], (step, got)
            if "bind" in step:
                bound[step["bind"]] = got.value
        elif "err" in expect:
            assert isinstance(got, Err), (step, got)
            err = to_json(got.value)
            assert {k: err[k] for k in expect["err"]} == expect["err"], (step, err)
        else:
            raise AssertionError(f"step expected a trap: {step}")
