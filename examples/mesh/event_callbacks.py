"""Seed 001, example 4: events from real traffic (connected, peer_joined,
task_updated, message, disconnected)."""

import asyncio
import tempfile
from pathlib import Path

from agentcell.mesh import Agent, EventData


async def main() -> None:
    keys = Path(tempfile.mkdtemp())
    agent = await Agent.builder().with_agent_key_path(keys / "watcher.key").build()
    events: list[str] = []

    def log(name: str):
        def callback(data: EventData) -> None:
            events.append(name)
            print(name, {k: v for k, v in data.items() if k != "payload"})

        return callback

    for name in ("connected", "peer_joined", "task_updated", "message", "disconnected"):
        agent.on(name, log(name))
    await agent.join_network()

    peer = await Agent.builder().with_agent_key_path(keys / "peer.key").build()
    await peer.join_network()  # its heartbeat reaches the watcher: peer_joined
    while "peer_joined" not in events:
        await asyncio.sleep(0.05)

    sub = agent.subscribe("alerts")
    await peer.publish("alerts", b"disk almost full")
    await sub.__anext__()
    sub.close()

    board = await agent.create_task_list("ops")
    await board.add_task("clean the disk")
    board.close()

    await peer.leave_network()
    await agent.leave_network()
    assert {
        "connected",
        "peer_joined",
        "message",
        "task_updated",
        "disconnected",
    } <= set(events)


if __name__ == "__main__":
    asyncio.run(main())
