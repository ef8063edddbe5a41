"""The service vectors (`tests/service-vectors/*.json`) over real HTTP against
`agentcell serve`, API keys on: the same requests the Rust and JS hosts answer in
process, plus the steps only a server answers (`served_only`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO, Server

FILES = sorted((REPO / "tests" / "service-vectors").glob("*.json"))
CASES = [(f.stem, case) for f in FILES for case in json.loads(f.read_text())["cases"]]


def _subset(expected: Any, got: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(got, dict) and all(k in got and _subset(v, got[k]) for k, v in expected.items())
    return bool(expected == got)


def test_every_file_has_cases() -> None:
    assert FILES and len(CASES) >= 6


@pytest.mark.parametrize(("file", "case"), CASES, ids=[f"{f}: {c['name']}" for f, c in CASES])
def test_service_vector(file: str, case: dict[str, Any], tmp_path: Path) -> None:
    server = Server(tmp_path / "data", "--rate-limit", "0")
    execution_id = ""  # a path's `{execution_id}` is the last one answered
    try:
        for step in case["steps"]:
            key = step.get("key", True)
            raw = step["raw"].encode() if "raw" in step else None
            kwargs: dict[str, Any] = {"raw": raw, "body": step.get("body")}
            # No `content_type`: JSON; `null`: no header (urllib then sends its form type).
            kwargs["content_type"] = step.get("content_type", "application/json")
            if key is not True:
                kwargs["key"] = key or None
            path = step["path"].replace("{execution_id}", execution_id)
            status, body, _ = server.request(step["method"], path, **kwargs)
            if isinstance(body, dict) and isinstance(body.get("execution_id"), str):
                execution_id = body["execution_id"]
            expect = step["expect"]
            assert status == expect["status"], (file, step, body)
            if "body" in expect:
                assert _subset(expect["body"], body), (file, step, body)
    finally:
        server.stop()
