"""`Agent`, its builder, messages, subscriptions and events (seed 001's Python API)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from .._wasm import Err, Runtime
from .._wit import MeshKeyPair, MeshOpened
from ..bus import START, Bus
from ..errors import InvalidArgumentError, TransportError
from ._ids import AgentId, MachineId, PublicKey
from ._keys import key_home, load_or_create

if TYPE_CHECKING:
    from ._tasklist import TaskList

__all__ = ["PRESENCE_TOPIC", "Agent", "AgentBuilder", "EventData", "Message", "Subscription"]

_LOG = logging.getLogger("agentcell.mesh")

PRESENCE_TOPIC = "agentcell/presence"
"""Where joined agents announce themselves (a signed heartbeat)."""
HEARTBEAT_SECONDS = 2.0
DEDUP_WINDOW = 10_000
"""How many message ids each subscription remembers to drop duplicates."""
EVENTS = ("connected", "disconnected", "peer_joined", "task_updated", "message")


class EventData(TypedDict, total=False):
    """What an event callback receives (keys depend on the event)."""

    peer_id: str
    agent_id: str
    address: str
    task_id: str
    task_list_id: str
    topic: str
    status: str
    assignee: str | None
    sender: str
    payload: bytes


class Message:
    """A verified message: `payload`, `sender`, `timestamp` (Unix seconds, as signed)."""

    __slots__ = ("id", "payload", "sender", "timestamp_ms", "topic")

    def __init__(self, id: str, topic: str, payload: bytes, sender: AgentId, timestamp_ms: int) -> None:
        self.id = id
        self.topic = topic
        self.payload = payload
        self.sender = sender
        self.timestamp_ms = timestamp_ms

    @property
    def timestamp(self) -> int:
        """Unix seconds."""
        return self.timestamp_ms // 1000

    @property
    def verified(self) -> bool:
        """Always true: an envelope whose signature fails is never delivered."""
        return True

    def __repr__(self) -> str:
        return f"Message(sender={self.sender!r}, payload_len={len(self.payload)}, timestamp={self.timestamp})"

    __str__ = __repr__


class _Window:
    """The ids seen most recently, at most `size` of them."""

    def __init__(self, size: int = DEDUP_WINDOW) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def seen(self, id: str) -> bool:
        if id in self._ids:
            return True
        self._ids[id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return False


class _Reader:
    """Reads one topic of the bus from a position and opens what it reads."""

    BATCH = 256

    def __init__(self, agent: Agent, topic: str, position: str) -> None:
        self.agent = agent
        self.topic = topic
        self.position = position

    async def next_batch(self, wait: float) -> list[tuple[str, MeshOpened]]:
        """What the next entries carried, each with the position to acknowledge once it
        is handled: a batch's messages share an entry, so all but its last one
        acknowledge the entry before it (a restart then delivers the whole batch again
        rather than lose its rest)."""
        agent = self.agent
        entries = await agent._in_thread(agent.bus.read, self.topic, self.position, self.BATCH, wait)
        if not entries:
            return []
        results = await agent._in_thread(agent.runtime.exports.mesh.open, self.topic, [e for _, e in entries])
        before = self.position
        self.position = entries[-1][0]
        opened: list[tuple[str, MeshOpened]] = []
        for (position, _), result in zip(entries, results, strict=True):
            if isinstance(result, Err):
                agent._reject(result.value)
            else:
                items = result.value
                opened.extend((position if i == len(items) - 1 else before, o) for i, o in enumerate(items))
            before = position
        return opened


class Subscription:
    """Messages on one topic, as an async iterator; `close()` ends it. Several
    subscriptions to one topic each receive every message.

    `durable`: a name under which the bus keeps this subscriber's position, so a
    subscriber that restarts with the same name receives what it missed. The position
    advances when the next message is asked for (the previous one counts as handled),
    so a crash while handling a message delivers that message again.
    """

    def __init__(self, agent: Agent, topic: str, durable: str | None) -> None:
        self._agent = agent
        self.topic = topic
        self._durable = f"{agent.agent_id.to_hex()}:{durable}:{topic}" if durable else None
        saved = agent.bus.load_position(self._durable) if self._durable else None
        start = saved if saved is not None else (START if durable else agent.bus.end(topic))
        self._reader = _Reader(agent, topic, start)
        self._pending: deque[tuple[str, Message]] = deque()
        self._handled: str | None = None
        self._window = _Window()
        self._closed = False
        self.duplicates = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Ends the iteration (idempotent); a durable position is kept."""
        if not self._closed:
            self._closed = True
            self._ack()
            self._agent._subscriptions.discard(self)

    def _ack(self) -> None:
        if self._durable and self._handled is not None:
            self._agent.bus.save_position(self._durable, self._handled)
            self._handled = None

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        self._ack()
        while not self._closed:
            if self._pending:
                position, message = self._pending.popleft()
                self._handled = position
                return message
            for position, opened in await self._reader.next_batch(0.2):
                if opened["kind"] != "message":
                    continue
                if self._window.seen(opened["id"]):
                    self.duplicates += 1
                    self._agent.stats["duplicates"] += 1
                    continue
                message = self._agent._message(opened)
                self._pending.append((position, message))
                self._agent._emit(
                    "message",
                    {"topic": message.topic, "sender": message.sender.to_hex(), "payload": message.payload},
                )
        raise StopAsyncIteration

    def __repr__(self) -> str:
        return f"Subscription(topic={self.topic!r}, closed={self._closed})"


class AgentBuilder:
    """Configures an agent: its machine key, agent key, storage and bus."""

    def __init__(self) -> None:
        self._machine_key: Path | None = None
        self._agent_key: MeshKeyPair | tuple[bytes, bytes] | None = None
        self._agent_key_path: Path | None = None
        self._storage: str | Path | None = None
        self._bus: Bus | None = None
        self._runtime: Runtime | None = None
        self._consumed = False

    def _next(self) -> AgentBuilder:
        if self._consumed:
            raise ValueError("Builder already consumed by build()")
        nxt = AgentBuilder()
        nxt.__dict__.update(self.__dict__)
        self.__dict__.update(AgentBuilder().__dict__)
        self._consumed = True
        return nxt

    def with_machine_key(self, path: str | Path) -> AgentBuilder:
        """The machine key file (loaded, or generated and saved there)."""
        nxt = self._next()
        nxt._machine_key = Path(path)
        return nxt

    def with_agent_key(self, public_key: bytes, secret_key: bytes | None = None) -> AgentBuilder:
        """The agent key pair: `(public_key, secret_key)` as upstream's Rust API, or the
        bytes of a key file as one argument (the seed's `keypair: bytes`)."""
        if not isinstance(public_key, (bytes, bytearray)) or not (
            secret_key is None or isinstance(secret_key, (bytes, bytearray))
        ):
            raise TypeError("with_agent_key takes bytes")
        nxt = self._next()
        nxt._agent_key = (bytes(public_key), bytes(secret_key) if secret_key is not None else b"")
        return nxt

    def with_agent_key_path(self, path: str | Path) -> AgentBuilder:
        """The agent key file (loaded, or generated and saved there)."""
        nxt = self._next()
        nxt._agent_key_path = Path(path)
        return nxt

    def with_storage(self, storage: str | Path) -> AgentBuilder:
        """Where task-list replicas live and, with them, the bus: a storage URL as the
        workers take it (`sqlite:///path`, a path, `redis://host:port/db`, `memory://`)."""
        nxt = self._next()
        nxt._storage = storage
        return nxt

    def with_bus(self, bus: Bus) -> AgentBuilder:
        """A bus other than the one that goes with the storage."""
        nxt = self._next()
        nxt._bus = bus
        return nxt

    def with_runtime(self, runtime: Runtime) -> AgentBuilder:
        """Run on this runtime (its storage and bus)."""
        nxt = self._next()
        nxt._runtime = runtime
        return nxt

    async def build(self) -> Agent:
        """Loads or creates the keys and returns the agent (not yet joined)."""
        if self._consumed:
            raise ValueError("Builder already consumed by previous build() call")
        self._consumed = True
        return await asyncio.to_thread(self._build)

    def _runtime_for(self) -> Runtime:
        if self._runtime is not None:
            return self._runtime
        from ..worker._storage_url import storage_path

        return Runtime(storage_path(self._storage), bus=self._bus)

    def _build(self) -> Agent:
        rt = self._runtime_for()
        mesh = rt.exports.mesh
        home = key_home()
        machine = load_or_create(rt, self._machine_key or home / "machine.key")
        if isinstance(self._agent_key, tuple):
            public, secret = self._agent_key
            if secret:
                agent_keys = _keys_from_bytes(rt, public, secret)
            else:
                try:
                    agent_keys = mesh.read_key_file(public.hex())["keys"]
                except InvalidArgumentError as e:
                    raise InvalidArgumentError(
                        f"Invalid agent keypair: {e.message}", field="keypair"
                    ) from None
        else:
            agent_keys = load_or_create(rt, self._agent_key_path or home / "agent.key")
        return Agent(rt, machine, agent_keys)


def _keys_from_bytes(rt: Runtime, public: bytes, secret: bytes) -> MeshKeyPair:
    # The component checks that the secret key belongs to the public key.
    keys: MeshKeyPair = {"public_key": public.hex(), "secret_key": secret.hex(), "id": ""}
    try:
        data = rt.exports.mesh.write_key_file(keys, None)
        return rt.exports.mesh.read_key_file(data)["keys"]
    except InvalidArgumentError as e:
        raise InvalidArgumentError(f"Invalid agent keypair: {e.message}", field="keypair") from None


class Agent:
    """An agent on the mesh: its identity, pub/sub on the bus, events, task lists."""

    def __init__(self, runtime: Runtime, machine: MeshKeyPair, keys: MeshKeyPair) -> None:
        self.runtime = runtime
        self._machine = machine
        self._keys = keys
        self._joined = False
        self._bus_ok = False
        self._callbacks: dict[str, list[Callable[[EventData], Any]]] = {}
        self._subscriptions: set[Subscription] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._peers: dict[str, float] = {}
        self._executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="agentcell-mesh")
        self._outbox: dict[str, deque[tuple[bytes, asyncio.Future[str]]]] = {}
        self._flushing: set[str] = set()
        self._flush_tasks: set[asyncio.Task[None]] = set()
        self.stats: dict[str, int] = {"duplicates": 0, "rejected": 0}

    @classmethod
    def builder(cls) -> AgentBuilder:
        return AgentBuilder()

    @property
    def bus(self) -> Bus:
        return self.runtime.bus

    @property
    def machine_id(self) -> MachineId:
        return MachineId.from_hex(self._machine["id"])

    @property
    def agent_id(self) -> AgentId:
        return AgentId.from_hex(self._keys["id"])

    @property
    def public_key(self) -> PublicKey:
        return PublicKey.from_hex(self._keys["public_key"])

    def export_keypair(self) -> tuple[bytes, bytes]:
        """The agent key pair `(public_key, secret_key)`, for `with_agent_key`."""
        return bytes.fromhex(self._keys["public_key"]), bytes.fromhex(self._keys["secret_key"])

    def peer_id(self) -> str:
        """This machine's id in hex (upstream's peer id is the machine id)."""
        return self._machine["id"]

    def is_connected(self) -> bool:
        """True when joined and the bus answered the last heartbeat."""
        return self._joined and self._bus_ok

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def join_network(self) -> None:
        """Joins: checks the bus, announces this agent (a signed heartbeat every few
        seconds) and starts watching for peers. `TransportError` when the bus is down."""
        if self._joined:
            return
        if not await self._in_thread(self.bus.ping):
            raise TransportError(f"the {self.bus.kind} bus does not answer")
        presence = _Reader(self, PRESENCE_TOPIC, await self._in_thread(self.bus.end, PRESENCE_TOPIC))
        await self._heartbeat()
        self._joined = self._bus_ok = True
        self._tasks.append(asyncio.create_task(self._heartbeats()))
        self._tasks.append(asyncio.create_task(self._watch_peers(presence)))
        self._emit("connected", {"peer_id": self.peer_id()})

    async def leave_network(self) -> None:
        """Stops announcing and ends every subscription."""
        if not self._joined:
            return
        self._joined = False
        for sub in list(self._subscriptions):
            sub.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._emit("disconnected", {"peer_id": self.peer_id()})

    async def _heartbeat(self) -> None:
        payload = json.dumps({"machine_id": self._machine["id"], "agent_id": self._keys["id"]}).encode()
        envelope = await self._in_thread(
            self.runtime.exports.mesh.seal, self._keys, "presence", PRESENCE_TOPIC, payload.hex()
        )
        await self._in_thread(self.bus.publish, PRESENCE_TOPIC, envelope)

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                await self._heartbeat()
                if not self._bus_ok:
                    self._bus_ok = True
                    self._emit("connected", {"peer_id": self.peer_id()})
            except TransportError as e:
                _LOG.warning("heartbeat failed: %s", e)
                if self._bus_ok:
                    self._bus_ok = False
                    self._emit("disconnected", {"peer_id": self.peer_id()})

    async def _watch_peers(self, presence: _Reader) -> None:
        while True:
            try:
                batch = await presence.next_batch(0.5)
            except TransportError:
                await asyncio.sleep(HEARTBEAT_SECONDS)
                continue
            for _, opened in batch:
                if opened["kind"] != "presence" or opened["sender"] == self._keys["id"]:
                    continue
                try:
                    body = json.loads(bytes.fromhex(opened["payload"]))
                    machine = str(body["machine_id"])
                except (ValueError, KeyError, TypeError):
                    self.stats["rejected"] += 1
                    continue
                first = opened["sender"] not in self._peers
                self._peers[opened["sender"]] = time.time()
                if first:
                    self._emit(
                        "peer_joined",
                        {"peer_id": machine, "agent_id": opened["sender"], "address": f"{self.bus.kind}-bus"},
                    )

    def peers(self, within: float = 3 * HEARTBEAT_SECONDS) -> list[AgentId]:
        """Agents heard from within `within` seconds."""
        now = time.time()
        return [AgentId.from_hex(a) for a, at in self._peers.items() if now - at <= within]

    def _require_joined(self) -> None:
        if not self._joined:
            raise TransportError("not on the network: call await agent.join_network() first")

    def _check_publish(self, topic: str) -> None:
        self._require_joined()
        if not isinstance(topic, str) or not topic:
            raise InvalidArgumentError("topic must be a non-empty str", field="topic")

    async def publish(self, topic: str, payload: bytes) -> str:
        """Signs `payload` and puts it on `topic`; returns the message id (hex).
        Every subscriber of the topic receives it, this agent's own included.

        Publishes made concurrently (e.g. `asyncio.gather`) on one topic are signed
        together, one signature per batch (`publish_many`), in the order they were
        made; one at a time, each is signed alone."""
        self._check_publish(topic)
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise TypeError(f"payload must be bytes, got {type(payload).__name__}")
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._outbox.setdefault(topic, deque()).append((bytes(payload), done))
        if topic not in self._flushing:
            self._flushing.add(topic)
            task = asyncio.create_task(self._flush(topic))
            self._flush_tasks.add(task)  # a task nobody holds may be collected mid-run
            task.add_done_callback(self._flush_tasks.discard)
        return await done

    async def _flush(self, topic: str) -> None:
        queue = self._outbox[topic]
        try:
            while queue:
                batch = [queue.popleft() for _ in range(min(len(queue), self.BATCH_LIMIT))]
                try:
                    ids = await self._sign_and_publish(topic, [p for p, _ in batch])
                except Exception as e:  # every waiting publish gets the error
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(e)
                    continue
                for (_, done), id in zip(batch, ids, strict=True):
                    if not done.done():
                        done.set_result(id)
        finally:
            self._flushing.discard(topic)

    BATCH_LIMIT = 256
    """The most messages signed together."""

    async def _sign_and_publish(self, topic: str, payloads: list[bytes]) -> list[str]:
        mesh = self.runtime.exports.mesh
        if len(payloads) == 1:
            return [await self._in_thread(mesh.publish, self._keys, topic, payloads[0].hex())]
        hexes = [p.hex() for p in payloads]
        out: list[str] = await self._in_thread(mesh.publish_many, self._keys, topic, hexes)
        return out

    async def publish_many(self, topic: str, payloads: list[bytes]) -> list[str]:
        """Signs several payloads with one signature (in batches of `BATCH_LIMIT`) and
        puts them on `topic`, in order; their message ids. Receivers get each as its
        own message."""
        self._check_publish(topic)
        if isinstance(payloads, (bytes, bytearray)) or not all(
            isinstance(p, (bytes, bytearray, memoryview)) for p in payloads
        ):
            raise TypeError("payloads must be a list of bytes")
        ids: list[str] = []
        items = [bytes(p) for p in payloads]
        for i in range(0, len(items), self.BATCH_LIMIT):
            ids += await self._sign_and_publish(topic, items[i : i + self.BATCH_LIMIT])
        return ids

    def subscribe(self, topic: str, *, durable: str | None = None) -> Subscription:
        """Messages published on `topic` from now on (`durable`: see `Subscription`)."""
        if not isinstance(topic, str) or not topic:
            raise InvalidArgumentError("topic must be a non-empty str", field="topic")
        sub = Subscription(self, topic, durable)
        self._subscriptions.add(sub)
        return sub

    def on(self, event: str, callback: Callable[[EventData], Any]) -> None:
        """Calls `callback(data)` on every `event` (`connected`, `disconnected`,
        `peer_joined`, `task_updated`, `message`)."""
        if event not in EVENTS:
            raise InvalidArgumentError(
                f"unknown event {event!r}; events are {', '.join(EVENTS)}", field="event"
            )
        self._callbacks.setdefault(event, []).append(callback)

    def off(self, event: str, callback: Callable[[EventData], Any]) -> None:
        """Removes the first registration of `callback` for `event` (none: no-op)."""
        callbacks = self._callbacks.get(event, [])
        for i, cb in enumerate(callbacks):
            if cb is callback:
                del callbacks[i]
                return

    def _emit(self, event: str, data: dict[str, Any]) -> None:
        for cb in list(self._callbacks.get(event, [])):
            try:
                cb(data)  # type: ignore[arg-type]
            except Exception:
                _LOG.exception("a %s callback raised", event)

    def _reject(self, rejection: dict[str, str]) -> None:
        self.stats["rejected"] += 1
        key = f"rejected_{rejection['reason']}"
        self.stats[key] = self.stats.get(key, 0) + 1
        _LOG.info("envelope refused (%s): %s", rejection["reason"], rejection["message"])

    def _message(self, opened: MeshOpened) -> Message:
        return Message(
            opened["id"],
            opened["topic"],
            bytes.fromhex(opened["payload"]),
            AgentId.from_hex(opened["sender"]),
            opened["timestamp_ms"],
        )

    async def create_task_list(self, name: str, topic: str | None = None) -> TaskList:
        """Creates the task list `name` on `topic` (default `tasklist/<name>`), or joins
        it when it exists: the topic is the list."""
        from ._tasklist import TaskList

        return await TaskList._create(self, name, topic or f"tasklist/{name}")

    async def join_task_list(self, topic: str) -> TaskList:
        """Joins the list on `topic` (its creator's topic, or `tasklist/<name>`)."""
        from ._tasklist import TaskList

        return await TaskList._join(self, topic)

    def __repr__(self) -> str:
        return f"Agent(agent_id={self.agent_id!r}, machine_id={self.machine_id!r}, joined={self._joined})"
