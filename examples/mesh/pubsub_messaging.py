"""Seed 001, example 2: pub/sub between two agents (signed, verified, delivered)."""

import asyncio
import tempfile
from pathlib import Path

from agentcell.mesh import Agent


async def main() -> None:
    keys = Path(tempfile.mkdtemp())
    alice = await Agent.builder().with_agent_key_path(keys / "alice.key").build()
    bob = await Agent.builder().with_agent_key_path(keys / "bob.key").build()
    await alice.join_network()
    await bob.join_network()

    inbox = bob.subscribe("chat/general")
    await alice.publish("chat/general", b"hello bob")
    await alice.publish("chat/general", b"are you there?")

    received = []
    async for msg in inbox:
        print(f"{msg.sender!r} says {msg.payload.decode()!r} at {msg.timestamp}")
        assert msg.sender == alice.agent_id
        received.append(msg.payload)
        if len(received) == 2:
            break
    inbox.close()
    assert received == [b"hello bob", b"are you there?"]
    await alice.leave_network()
    await bob.leave_network()


if __name__ == "__main__":
    asyncio.run(main())
