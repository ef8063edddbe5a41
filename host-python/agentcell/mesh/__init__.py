"""x0x's agent mesh on agentcell (seed 001): ML-DSA-65 identities, signed pub/sub that
really delivers (across processes on the SQLite bus, across machines on Redis), events
from real traffic, and task lists that converge.

```python
from agentcell.mesh import Agent

agent = await Agent.builder().build()
await agent.join_network()
await agent.publish("news", b"hello")
async for msg in agent.subscribe("news"):
    print(msg.sender, msg.payload)
```
"""

from ..bus import Bus, MemoryBus, RedisBus, SQLiteBus
from ._agent import Agent, AgentBuilder, EventData, Message, Subscription
from ._ids import AgentId, MachineId, PublicKey, TaskId
from ._tasklist import TaskItem, TaskList, TaskStatus

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AgentBuilder",
    "AgentId",
    "Bus",
    "EventData",
    "MachineId",
    "MemoryBus",
    "Message",
    "PublicKey",
    "RedisBus",
    "SQLiteBus",
    "Subscription",
    "TaskId",
    "TaskItem",
    "TaskList",
    "TaskStatus",
]
