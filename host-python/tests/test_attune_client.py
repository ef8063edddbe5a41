"""AttunedClient and SyncAttunedClient against `agentcell serve` (a separate process)
and against a deliberately slow loopback server."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import agentcell
from agentcell import AttunedClient, StateSnapshot, SyncAttunedClient

from .conftest import KEY, Server


def snapshot(user: str = "user_123") -> StateSnapshot:
    return StateSnapshot.builder().user_id(user).axis("warmth", 0.9).axis("cognitive_load", 0.9).build()


def test_async_client_as_in_the_seed(server: Server) -> None:
    async def main() -> None:
        async with AttunedClient(server.base, api_key=KEY) as client:
            await client.upsert_state(snapshot())
            context = await client.get_context("user_123")
            assert context.tone == "warm-casual" and "high_cognitive_load" in context.flags
            state = await client.get_state("user_123")
            assert state is not None and state.axes == pytest.approx({"cognitive_load": 0.9, "warmth": 0.9})
            translated = await client.translate(snapshot("anyone"))
            assert translated == context, "the service translates as it serves contexts"
            assert await client.health() is True
            assert await client.delete_state("user_123") is True
            assert await client.get_state("user_123") is None  # as upstream's client
            with pytest.raises(agentcell.NotFoundError):
                await client.get_context("user_123")

    asyncio.run(main())


def test_sync_twin_and_typed_errors(server: Server) -> None:
    with SyncAttunedClient(server.base, api_key=KEY) as client:
        client.upsert_state(snapshot("ana"))
        assert client.get_context("ana").tone == "warm-casual"
        assert client.get_state("nobody") is None
        assert client.delete_state("nobody") is True  # the service answers 204 either way
        assert client.translate(snapshot("x")).tone == "warm-casual"
    with SyncAttunedClient(server.base, api_key="wrong") as bad:
        with pytest.raises(agentcell.AuthenticationError) as info:
            bad.get_context("ana")
        assert isinstance(info.value, PermissionError)
    with pytest.raises(agentcell.InvalidArgumentError, match="base_url"):
        SyncAttunedClient("localhost:8080")


def test_rate_limited_carries_retry_after(tmp_path: Path) -> None:
    s = Server(tmp_path / "data", "--rate-limit", "1")
    try:
        with SyncAttunedClient(s.base, api_key=KEY, max_retries=0) as client:
            with pytest.raises(agentcell.NotFoundError):
                client.get_context("x")
            with pytest.raises(agentcell.RateLimitedError) as info:
                client.get_context("x")
            assert info.value.retry_after is not None and info.value.retry_after >= 1
    finally:
        s.stop()


def test_network_failure_is_typed_and_health_is_false() -> None:
    with SyncAttunedClient("http://127.0.0.1:9", max_retries=0) as client:
        assert client.health() is False
        with pytest.raises(agentcell.HttpError):
            client.get_context("ana")


CONTEXT = {
    "guidelines": ["Offer suggestions, not actions"],
    "tone": "calm-neutral",
    "verbosity": "medium",
    "flags": [],
}


class Slow(http.server.BaseHTTPRequestHandler):
    """Answers every GET after 50 ms; on /flaky, fails twice with 503 first."""

    calls = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        time.sleep(0.05)
        if self.path.startswith("/v1/context/flaky"):
            with Slow.lock:
                Slow.calls += 1
                fail = Slow.calls <= 2
            if fail:
                self.send_response(503)
                self.send_header("retry-after", "0")
                self.end_headers()
                return
        body = json.dumps(CONTEXT).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Backlogged(http.server.ThreadingHTTPServer):
    request_queue_size = 256


@pytest.fixture
def slow_server() -> Iterator[str]:
    server = Backlogged(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_100_concurrent_calls_do_not_queue_behind_the_instance(slow_server: str) -> None:
    async def main() -> float:
        async with AttunedClient(slow_server) as client:
            await client.get_context("warm-up")
            started = time.perf_counter()
            contexts = await asyncio.gather(*(client.get_context(f"u{i}") for i in range(100)))
            elapsed = time.perf_counter() - started
            assert all(c.tone == "calm-neutral" for c in contexts)
            return elapsed

    elapsed = asyncio.run(main())
    # Serialised on one instance this would take 100 x 50 ms = 5 s.
    assert elapsed < 1.0, f"100 concurrent calls took {elapsed:.2f} s"


def test_retries_5xx_then_succeeds(slow_server: str) -> None:
    Slow.calls = 0
    with SyncAttunedClient(slow_server, max_retries=3) as client:
        assert client.get_context("flaky").tone == "calm-neutral"
    assert Slow.calls == 3
