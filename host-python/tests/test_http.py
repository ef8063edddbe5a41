"""The HTTP import: allow-list (deny by default), timeout, real loopback server."""

from __future__ import annotations

import pytest

import agentcell
from agentcell.http import HttpPolicy

from .conftest import Recorder


def test_allowed_destination_is_probed(http_server: str) -> None:
    rt = agentcell.Runtime(":memory:", HttpPolicy(allow=[http_server]))
    probe = agentcell.probe_url(f"http://{http_server}/ok", rt=rt)
    assert (probe.status, probe.healthy, probe.body_bytes) == (200, True, len(b"hello from loopback"))
    teapot = agentcell.probe_url(f"http://{http_server}/teapot", rt=rt)
    assert (teapot.status, teapot.healthy) == (418, False)


def test_default_policy_denies_and_sends_nothing(http_server: str) -> None:
    rt = agentcell.Runtime(":memory:")
    before = len(Recorder.seen)
    with pytest.raises(agentcell.HttpDeniedError, match="allow-list"):
        agentcell.probe_url(f"http://{http_server}/denied", rt=rt)
    assert len(Recorder.seen) == before
    assert issubclass(agentcell.HttpDeniedError, PermissionError)


def test_host_allowed_on_another_port_only_is_denied(http_server: str) -> None:
    host, port = http_server.split(":")
    rt = agentcell.Runtime(":memory:", HttpPolicy(allow=[f"{host}:{int(port) + 1}"]))
    with pytest.raises(agentcell.HttpDeniedError):
        agentcell.probe_url(f"http://{http_server}/ok", rt=rt)


def test_timeout_is_a_timeout_error(http_server: str) -> None:
    rt = agentcell.Runtime(":memory:", HttpPolicy(allow=[http_server], timeout=0.3))
    with pytest.raises(agentcell.HttpTimeoutError) as info:
        agentcell.probe_url(f"http://{http_server}/slow", rt=rt)
    assert isinstance(info.value, TimeoutError)


def test_async_probe_leaves_the_event_loop_free(http_server: str) -> None:
    import asyncio

    rt = agentcell.Runtime(":memory:", HttpPolicy(allow=[http_server]))

    async def main() -> tuple[int, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        probe = await agentcell.probe_url_async(f"http://{http_server}/slow", timeout=5, rt=rt)
        task.cancel()
        return probe.status, ticks

    status, ticks = asyncio.run(main())
    assert status == 200
    assert ticks > 50  # the loop ran while the 2 s request was in flight


def test_connection_refused_is_an_http_error() -> None:
    rt = agentcell.Runtime(":memory:", HttpPolicy(allow=["127.0.0.1"]))
    with pytest.raises(agentcell.HttpError):
        agentcell.probe_url("http://127.0.0.1:9/", rt=rt)


@pytest.mark.parametrize(
    ("allow", "url", "expected"),
    [
        (["*"], "https://example.com/x", True),
        (["example.com"], "https://EXAMPLE.com:8443/x", True),
        (["example.com:443"], "https://example.com/x", True),
        (["example.com:443"], "http://example.com/x", False),
        (["example.com"], "https://example.com.evil.test/", False),
        (["[::1]:8080"], "http://[::1]:8080/", True),
        (["*"], "file:///etc/passwd", False),
        ([], "http://127.0.0.1/", False),
    ],
)
def test_allow_list_rules(allow: list[str], url: str, expected: bool) -> None:
    assert HttpPolicy(allow=allow).permits(url) is expected


def test_bad_policy_is_rejected() -> None:
    with pytest.raises(ValueError, match="timeout"):
        HttpPolicy(timeout=0)
