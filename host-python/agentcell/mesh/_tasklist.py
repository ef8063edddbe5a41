"""Task lists shared by agents: a CRDT replica here, every change a signed operation
on the list's topic, so every replica converges (rules in docs/mesh.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from .._wit import MeshTaskOp
from ..bus import START
from ..errors import InvalidArgumentError, NotFoundError
from ._ids import AgentId, TaskId

if TYPE_CHECKING:
    from ._agent import Agent, _Reader

__all__ = ["TaskItem", "TaskList", "TaskStatus"]

DEFAULT_PRIORITY = 128


class TaskStatus(str, Enum):
    """A task's checkbox; equal to upstream's strings (`"empty"`, ...)."""

    Empty = "empty"
    Claimed = "claimed"
    Done = "done"
    EMPTY = "empty"
    CLAIMED = "claimed"
    DONE = "done"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class TaskItem:
    """A task as the local replica has it."""

    id: str
    title: str
    description: str
    status: TaskStatus
    assignee: str | None
    priority: int
    created_by: str
    created_at: int
    claimed_by: str | None
    claimed_at: int | None
    completed_by: str | None
    completed_at: int | None

    @property
    def task_id(self) -> TaskId:
        return TaskId.from_hex(self.id)

    def __repr__(self) -> str:
        return f"TaskItem(id='{self.id[:8]}...', title={self.title!r}, status='{self.status.value}')"

    def __str__(self) -> str:
        return f"[{self.status.value}] {self.title}"


def _task_hex(task_id: TaskId | str) -> str:
    if isinstance(task_id, TaskId):
        return task_id.to_hex()
    if not isinstance(task_id, str):
        raise TypeError(f"a task id is a TaskId or a hex str, got {type(task_id).__name__}")
    try:
        return TaskId.from_hex(task_id).to_hex()
    except ValueError as e:
        raise InvalidArgumentError(f"Invalid task ID hex: {e}", field="task_id") from None


class TaskList:
    """A list of tasks agents claim and complete; create or join it through an agent
    (`await agent.create_task_list(name)`, `await agent.join_task_list(topic)`) or
    `await TaskList.create(name, agent=agent)`."""

    def __init__(self, agent: Agent, topic: str) -> None:
        self._agent = agent
        self.topic = topic
        self._reader: _Reader | None = None
        self._follower: asyncio.Task[None] | None = None
        self._view: dict[str, Any] = {"list": {"id": "", "topic": topic, "name": ""}, "tasks": []}

    # -- making and finding lists ------------------------------------------------

    @classmethod
    async def create(cls, name: str, agent: Agent | None = None, topic: str | None = None) -> TaskList:
        """The seed's form: creates `name` as `agent` (default: an agent built with the
        default keys and storage, joined to the network)."""
        if agent is None:
            from ._agent import Agent

            agent = await Agent.builder().build()
            await agent.join_network()
        return await agent.create_task_list(name, topic)

    @classmethod
    async def join(cls, topic: str, agent: Agent) -> TaskList:
        return await agent.join_task_list(topic)

    @classmethod
    async def _create(cls, agent: Agent, name: str, topic: str) -> TaskList:
        if not isinstance(name, str) or not name.strip():
            raise InvalidArgumentError("name must be a non-empty str", field="name")
        agent._require_joined()
        tl = cls(agent, topic)
        await agent._in_thread(agent.runtime.exports.mesh.create_task_list, agent._keys, name, topic)
        await tl._start()
        return tl

    @classmethod
    async def _join(cls, agent: Agent, topic: str) -> TaskList:
        if not isinstance(topic, str) or not topic:
            raise InvalidArgumentError("topic must be a non-empty str", field="topic")
        agent._require_joined()
        tl = cls(agent, topic)
        await tl._start()
        if not tl._view["list"]["id"]:
            tl.close()
            raise NotFoundError(f"no task list on topic {topic!r}: nobody created one there", field="topic")
        return tl

    async def _start(self) -> None:
        from ._agent import _Reader

        # The whole history of the topic: operations are idempotent, so replaying what
        # the replica already holds changes nothing.
        self._reader = _Reader(self._agent, self.topic, START)
        await self.sync()
        self._follower = asyncio.create_task(self._follow())

    async def sync(self) -> None:
        """Applies every operation on the bus up to now, then refreshes `get_tasks()`."""
        assert self._reader is not None
        end = await self._agent._in_thread(self._agent.bus.end, self.topic)
        while self._reader.position != end and _before(self._reader.position, end):
            await self._apply(await self._reader.next_batch(0))
        await self._refresh()

    async def _follow(self) -> None:
        assert self._reader is not None
        while True:
            batch = await self._reader.next_batch(0.2)
            if batch:
                await self._apply(batch)
                await self._refresh()

    async def _apply(self, batch: list[tuple[str, Any]]) -> None:
        for _, opened in batch:
            if opened["kind"] == "task-op" and opened["task_update"]:
                update = json.loads(opened["task_update"])
                update.setdefault("task_list_id", self.id)
                self._agent._emit("task_updated", update)

    async def _refresh(self) -> None:
        text = await self._agent._in_thread(self._agent.runtime.exports.mesh.get_task_list, self.topic)
        if text is not None:
            self._view = json.loads(text)

    def close(self) -> None:
        """Stops following the topic (the replica stays stored)."""
        if self._follower is not None:
            self._follower.cancel()
            self._follower = None

    # -- reading -------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The list id (hex of `BLAKE3("x0x.tasklist.id.v1" || topic)`)."""
        return str(self._view["list"]["id"])

    @property
    def name(self) -> str:
        return str(self._view["list"]["name"])

    def get_tasks(self) -> list[TaskItem]:
        """The tasks in display order, as last synced (no waiting)."""
        return [_item(t) for t in self._view["tasks"]]

    async def list_tasks(self) -> list[TaskItem]:
        """The tasks in display order, after applying what the bus holds now."""
        await self.sync()
        return self.get_tasks()

    # -- changing ------------------------------------------------------------------

    async def _change(self, op: MeshTaskOp) -> str:
        agent = self._agent
        agent._require_joined()
        out: str = await agent._in_thread(
            agent.runtime.exports.mesh.change_task_list, agent._keys, self.topic, op
        )
        await self._refresh()
        task = op[1] if op[0] in ("claim", "complete") else out
        if isinstance(task, str) and task:
            for t in self._view["tasks"]:
                if t["id"] == task:
                    agent._emit(
                        "task_updated",
                        {
                            "task_list_id": self.id,
                            "topic": self.topic,
                            "task_id": task,
                            "status": t["state"],
                            "assignee": t["assignee"],
                        },
                    )
        return out

    async def add_task(
        self, title: str, description: str | None = None, priority: int = DEFAULT_PRIORITY
    ) -> TaskId:
        """Adds a task (priority 0..=255, higher first in upstream's convention)."""
        if not isinstance(title, str) or not title.strip():
            raise InvalidArgumentError("title must be a non-empty str", field="title")
        if description is not None and not isinstance(description, str):
            raise InvalidArgumentError("description must be a str", field="description")
        _check_priority(priority)
        return TaskId.from_hex(await self._change(("add", (title, description or "", priority))))

    async def claim_task(self, task_id: TaskId | str, agent_id: AgentId | None = None) -> None:
        """Claims a task as this list's agent (the earliest claim wins when agents race).
        `agent_id`, the seed's form, must be this agent: an agent signs only as itself."""
        if agent_id is not None and agent_id != self._agent.agent_id:
            raise InvalidArgumentError("an agent can claim only as itself", field="agent_id")
        await self._change(("claim", _task_hex(task_id)))

    async def complete_task(self, task_id: TaskId | str) -> None:
        """Marks a claimed task done (final)."""
        await self._change(("complete", _task_hex(task_id)))

    async def reorder(self, task_ids: list[TaskId | str]) -> None:
        """Sets the display order (tasks left out follow, by creation)."""
        if isinstance(task_ids, (str, bytes)):
            raise InvalidArgumentError(
                "task_ids must be a list of task ids, not one string", field="task_ids"
            )
        await self._change(("reorder", [_task_hex(t) for t in task_ids]))

    async def set_priority(self, task_id: TaskId | str, priority: int) -> None:
        _check_priority(priority)
        await self._change(("set-priority", (_task_hex(task_id), priority)))

    async def __aenter__(self) -> TaskList:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TaskList(name={self.name!r}, topic={self.topic!r}, tasks={len(self._view['tasks'])})"


def _before(position: str, end: str) -> bool:
    """True when `position` is before `end` (integer positions, or Redis stream ids)."""

    def key(p: str) -> tuple[int, int]:
        head, _, tail = p.partition("-")
        return int(head), int(tail or 0)

    with contextlib.suppress(ValueError):
        return key(position) < key(end)
    return False


def _check_priority(priority: int) -> None:
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 255:
        raise InvalidArgumentError(f"priority must be an int in 0..=255, got {priority!r}", field="priority")


def _item(t: dict[str, Any]) -> TaskItem:
    return TaskItem(
        id=t["id"],
        title=t["title"],
        description=t["description"],
        status=TaskStatus(t["state"]),
        assignee=t["assignee"],
        priority=t["priority"],
        created_by=t["created_by"],
        created_at=t["created_at"],
        claimed_by=t["claimed_by"],
        claimed_at=t["claimed_at"],
        completed_by=t["completed_by"],
        completed_at=t["completed_at"],
    )
