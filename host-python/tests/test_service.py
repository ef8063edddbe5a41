"""End to end: `agentcell serve` (the Rust host) as a separate process on loopback,
answered by the component, exercised over real HTTP."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

import pytest

from .conftest import AGENTCELL, KEY, Server


def test_health_ready_and_openapi_are_public(server: Server) -> None:
    assert server.request("GET", "/health", key=None)[:2] == (200, {"status": "ok", "version": "0.1.0"})
    assert server.request("GET", "/ready", key=None)[0] == 200
    status, spec, _ = server.request("GET", "/openapi.json", key=None)
    assert status == 200 and "/v1/context/{user_id}" in spec["paths"]


def test_api_keys_are_enforced(server: Server) -> None:
    status, body, _ = server.request("GET", "/v1/context/ana", key=None)
    assert (status, body["error"]["code"]) == (401, "UNAUTHORIZED")
    status, body, _ = server.request("GET", "/v1/context/ana", key="wrong")
    assert (status, body["error"]["message"]) == (401, "unknown API key")  # worded by the component
    # The scheme is case-insensitive (RFC 7235).
    req = urllib.request.Request(server.base + "/v1/translate", data=b'{"axes": {}}', method="POST")
    req.add_header("authorization", f"bearer {KEY}")
    req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200


def test_refusals_and_writes_are_the_components_word(server: Server) -> None:
    status, body, _ = server.request("POST", "/v1/state", raw=b"\xff\xfe")
    assert (status, body["error"]["code"], body["error"]["message"]) == (
        400,
        "VALIDATION_ERROR",
        "body: must be UTF-8 JSON",
    )
    # A write routed to its user's lane and a delete of a percent-encoded id.
    assert server.request("POST", "/v1/state", {"user_id": "ü-1", "axes": {"warmth": 0.2}})[0] == 204
    assert server.request("DELETE", "/v1/state/%C3%BC-1")[0] == 204
    assert server.request("GET", "/v1/state/%C3%BC-1")[0] == 404


def test_state_context_and_errors(server: Server) -> None:
    state = {"user_id": "ana", "source": "self_report", "axes": {"warmth": 0.9, "cognitive_load": 0.9}}
    assert server.request("POST", "/v1/state", state)[:2] == (204, None)
    status, got, _ = server.request("GET", "/v1/state/ana")
    assert status == 200 and got["axes"] == pytest.approx({"cognitive_load": 0.9, "warmth": 0.9})
    status, ctx, _ = server.request("GET", "/v1/context/ana")
    assert status == 200 and ctx["tone"] == "warm-casual" and ctx["flags"] == ["high_cognitive_load"]
    status, body, _ = server.request("GET", "/v1/context/nobody")
    assert (status, body["error"]["code"]) == (404, "USER_NOT_FOUND")
    status, body, _ = server.request("POST", "/v1/state", {"user_id": "ana", "axes": {"Mood": 0.5}})
    assert (status, body["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert "axes.Mood" in body["error"]["message"]
    status, ctx, _ = server.request("POST", "/v1/translate", {"axes": {"verbosity_preference": 0.1}})
    assert status == 200 and ctx["verbosity"] == "low"
    assert server.request("DELETE", "/v1/state/ana")[0] == 204
    assert server.request("DELETE", "/v1/state/ana")[0] == 204  # as upstream: no state is no error


def test_body_limit_is_one_megabyte(server: Server) -> None:
    status, body, _ = server.request("POST", "/v1/state", raw=b"{" + b" " * (1024 * 1024 + 10) + b"}")
    assert (status, body["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")


def test_rate_limit_per_key_with_retry_after(tmp_path: Path) -> None:
    s = Server(tmp_path / "data", "--rate-limit", "3")
    try:
        statuses = [s.request("GET", "/v1/context/x")[0] for _ in range(3)]
        assert statuses == [404, 404, 404]
        status, body, headers = s.request("GET", "/v1/context/x")
        assert (status, body["error"]["code"]) == (429, "RATE_LIMITED")
        assert int(headers["retry-after"]) >= 1
        assert s.request("GET", "/health", key=None)[0] == 200  # public routes are not limited
    finally:
        s.stop()


def test_sigterm_stops_gracefully_and_state_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = Server(data, "--rate-limit", "0")
    assert first.request("POST", "/v1/state", {"user_id": "ana", "axes": {"warmth": 0.9}})[0] == 204
    assert first.stop() == 0
    second = Server(data, "--rate-limit", "0")
    try:
        status, ctx, _ = second.request("GET", "/v1/context/ana")
        assert status == 200 and ctx["tone"] == "warm-casual"
    finally:
        second.stop()


@pytest.mark.parametrize("backend", ["sqlite", "memory"])
def test_a_self_report_amid_concurrent_inferences_is_never_lost(tmp_path: Path, backend: str) -> None:
    """Four workers; in each round 15 clients post inferred state for one user while one
    posts a self-report. Whatever the order, the user's word outranks every inference,
    so the stored warmth ends 0.9. A read-then-write upsert lets an inference that read
    before the self-report overwrite it; the merge is a compare-and-set, made again
    when it loses (and the server keeps one user's writes in order on one lane)."""
    from concurrent.futures import ThreadPoolExecutor

    extra = ["--workers", "4", "--rate-limit", "0"] + (["--memory"] if backend == "memory" else [])
    s = Server(tmp_path / "data", *extra)
    try:
        inferred = {"user_id": "u", "source": "inferred", "axes": {"warmth": 0.1, "cognitive_load": 0.5}}
        reported = {"user_id": "u", "source": "self_report", "axes": {"warmth": 0.9}}
        with ThreadPoolExecutor(16) as pool:
            for round in range(20):
                assert s.request("DELETE", "/v1/state/u")[0] in (204, 404)
                bodies = [inferred] * 8 + [reported] + [inferred] * 7
                statuses = list(pool.map(lambda b: s.request("POST", "/v1/state", b)[0], bodies))
                assert statuses == [204] * len(bodies)
                status, state, _ = s.request("GET", "/v1/state/u")
                assert status == 200 and state["axes"]["warmth"] == pytest.approx(0.9), round
    finally:
        s.stop()


def test_refuses_to_start_without_keys() -> None:
    out = subprocess.run(
        [str(AGENTCELL), "serve", "--addr", "127.0.0.1:0", "--memory"],
        capture_output=True,
        text=True,
        timeout=10,
        env={"PATH": ""},
    )
    assert out.returncode == 2 and "--api-key" in out.stderr


def test_two_servers_share_state_through_redis(tmp_path: Path, redis_url: str) -> None:
    url = redis_url
    first = Server(tmp_path / "a", "--redis", url)
    second = Server(tmp_path / "b", "--redis", url)
    try:
        assert first.request("POST", "/v1/state", {"user_id": "ana", "axes": {"warmth": 0.9}})[0] == 204
        status, ctx, _ = second.request("GET", "/v1/context/ana")
        assert status == 200 and ctx["tone"] == "warm-casual"
    finally:
        first.stop()
        second.stop()
