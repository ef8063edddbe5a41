"""Seed 001, example 3: a task list two agents share (add, claim, complete, sync)."""

import asyncio
import tempfile
import uuid
from pathlib import Path

from agentcell.mesh import Agent, TaskList, TaskStatus


async def main() -> None:
    keys = Path(tempfile.mkdtemp())
    lead = await Agent.builder().with_agent_key_path(keys / "lead.key").build()
    helper = await Agent.builder().with_agent_key_path(keys / "helper.key").build()
    await lead.join_network()
    await helper.join_network()

    board = f"sprint-{uuid.uuid4().hex[:8]}"
    tasks = await TaskList.create(board, agent=lead)
    docs = await tasks.add_task("Write the docs", "README and API reference")
    tests = await tasks.add_task("Write the tests", priority=200)

    # The helper joins by the list's topic and finds the lead's tasks.
    shared = await helper.join_task_list(tasks.topic)
    await shared.claim_task(docs, helper.agent_id)
    await tasks.claim_task(tests)
    await shared.complete_task(docs)

    await tasks.sync()
    for item in tasks.get_tasks():
        print(item, "->", item.assignee[:16] if item.assignee else None)
    status = {t.title: t.status for t in tasks.get_tasks()}
    assert status == {
        "Write the docs": TaskStatus.Done,
        "Write the tests": TaskStatus.Claimed,
    }
    assert tasks.get_tasks() == shared.get_tasks()

    tasks.close()
    shared.close()
    await lead.leave_network()
    await helper.leave_network()


if __name__ == "__main__":
    asyncio.run(main())
