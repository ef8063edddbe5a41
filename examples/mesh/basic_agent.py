"""Seed 001, example 1: an agent's identity and joining the network."""

import asyncio

from agentcell.mesh import Agent


async def main() -> None:
    agent = await Agent.builder().build()  # keys in ~/.x0x (created on first run)
    print("agent id:  ", agent.agent_id)
    print("machine id:", agent.machine_id)
    await agent.join_network()  # the bus in the default data file
    assert agent.is_connected()
    print("peer id:   ", agent.peer_id())
    await agent.leave_network()
    assert not agent.is_connected()


if __name__ == "__main__":
    asyncio.run(main())
