"""The LangChain and FastAPI examples, run against a live `agentcell serve`."""

from __future__ import annotations

import asyncio
import sys

import pytest

from agentcell import AttunedClient, StateSnapshot, SyncAttunedClient

from .conftest import KEY, REPO, Server

sys.path.insert(0, str(REPO))
pytest.importorskip("fastapi")
pytest.importorskip("langchain_core")

from examples.fastapi_middleware import create_app
from examples.langchain_prompt import get_conditioned_prompt


@pytest.fixture
def server(server: Server) -> Server:
    """The shared server, with state for user "ana"."""
    with SyncAttunedClient(server.base, api_key=KEY) as client:
        client.upsert_state(
            StateSnapshot.builder().user_id("ana").axis("warmth", 0.9).axis("cognitive_load", 0.9).build()
        )
    return server


def test_langchain_system_prompt_carries_the_context(server: Server) -> None:
    async def main() -> str:
        async with AttunedClient(server.base, api_key=KEY) as client:
            prompt = await get_conditioned_prompt(client, "ana", "You are a helpful assistant.")
        messages = prompt.format_messages(question="Plan my week?")
        assert [m.type for m in messages] == ["system", "human"]
        return str(messages[0].content)

    system = asyncio.run(main())
    assert system.startswith("You are a helpful assistant.")
    assert "- Be brief, and hold back multi-step plans unless the user asks for one" in system
    assert "Tone: warm-casual" in system and "Verbosity: medium" in system


def test_fastapi_middleware_attaches_the_context(server: Server) -> None:
    from fastapi.testclient import TestClient

    app = create_app(AttunedClient(server.base, api_key=KEY))
    with TestClient(app) as http:
        known = http.get("/hello", headers={"X-User-ID": "ana"}).json()
        assert known["tone"] == "warm-casual"
        assert "Offer suggestions, not actions" in known["guidelines"]
        assert http.get("/hello", headers={"X-User-ID": "nobody"}).json() == {"tone": None, "guidelines": []}
        assert http.get("/hello").json()["tone"] is None
