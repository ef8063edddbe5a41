"""agentcell.mesh: identities and key files, signed pub/sub that delivers, events from
real traffic, task lists; every refusal typed."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentcell import InvalidArgumentError, NotFoundError, TransportError
from agentcell._wasm import Runtime
from agentcell.bus import MemoryBus, SQLiteBus
from agentcell.mesh import Agent, AgentId, MachineId, PublicKey, TaskId, TaskList, TaskStatus


@pytest.fixture(autouse=True)
def _key_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("AGENTCELL_MESH_HOME", str(tmp_path / "x0x"))
    yield tmp_path / "x0x"


def run(coro: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(coro())  # type: ignore[arg-type]


async def agent_on(storage: str, name: str) -> Agent:
    home = Path(os.environ["AGENTCELL_MESH_HOME"])
    a = await Agent.builder().with_agent_key_path(home / f"{name}.key").with_storage(storage).build()
    await a.join_network()
    return a


# -- identities -----------------------------------------------------------------


def test_ids_parse_print_and_compare_like_upstream() -> None:
    hx = "ab" * 32
    m = MachineId.from_hex(hx.upper())
    assert m.to_hex() == hx and str(m) == hx
    assert repr(m) == f"MachineId('{'ab' * 8}')"
    assert m == MachineId.from_hex(hx) and hash(m) == hash(MachineId.from_hex(hx))
    assert m != AgentId.from_hex(hx)
    assert len({m, MachineId.from_hex(hx)}) == 1
    with pytest.raises(ValueError, match="Invalid hex encoding"):
        AgentId.from_hex("zz")
    with pytest.raises(ValueError, match="AgentId must be 32 bytes, got 2"):
        AgentId.from_hex("abcd")
    with pytest.raises(ValueError, match="Invalid hex string"):
        TaskId.from_hex("xyz")
    with pytest.raises(ValueError, match="TaskId must be 32 bytes"):
        TaskId.from_hex("ab")
    t = TaskId.from_hex(hx)
    assert repr(t) == f"TaskId('{hx}')" and t == hx
    with pytest.raises(ValueError, match="PublicKey must be 1952 bytes"):
        PublicKey.from_hex("00" * 32)


def test_keys_go_to_upstreams_places_in_upstreams_format(_key_home: Path) -> None:
    async def main() -> None:
        a = await Agent.builder().with_storage("memory://").build()
        machine_file, agent_file = _key_home / "machine.key", _key_home / "agent.key"
        assert machine_file.exists() and agent_file.exists()
        assert oct(agent_file.stat().st_mode & 0o777) == "0o600"
        raw = agent_file.read_bytes()
        # bincode 1: u64le(1952) | pk | u64le(4032) | sk
        assert len(raw) == 6000 and raw[:8] == (1952).to_bytes(8, "little")
        pk = raw[8 : 8 + 1952]
        assert raw[1960:1968] == (4032).to_bytes(8, "little")
        # The documented derivation: SHA-256("AUTONOMI_PEER_ID_V2:" || pk).
        assert a.agent_id.to_hex() == hashlib.sha256(b"AUTONOMI_PEER_ID_V2:" + pk).hexdigest()
        assert a.public_key.as_bytes() == pk
        mraw = machine_file.read_bytes()
        assert a.machine_id.to_hex() == hashlib.sha256(b"AUTONOMI_PEER_ID_V2:" + mraw[8:1960]).hexdigest()
        assert a.peer_id() == a.machine_id.to_hex()
        # A second default build loads the same keys (upstream: one agent id per home).
        b = await Agent.builder().with_storage("memory://").build()
        assert (b.agent_id, b.machine_id) == (a.agent_id, a.machine_id)

    run(main)


def test_a_key_file_written_elsewhere_loads_and_keys_export_and_import(tmp_path: Path) -> None:
    rt = Runtime(":memory:", bus=MemoryBus())
    keys = rt.exports.mesh.generate_key("07" * 32)
    assert keys == rt.exports.mesh.generate_key("07" * 32), "a seed determines the keys"
    # Write the file byte by byte as upstream's bincode layout has it.
    pk, sk = bytes.fromhex(keys["public_key"]), bytes.fromhex(keys["secret_key"])
    path = tmp_path / "theirs.key"
    path.write_bytes(len(pk).to_bytes(8, "little") + pk + len(sk).to_bytes(8, "little") + sk)

    async def main() -> None:
        a = await Agent.builder().with_agent_key_path(path).with_runtime(rt).build()
        assert a.agent_id.to_hex() == keys["id"] == hashlib.sha256(b"AUTONOMI_PEER_ID_V2:" + pk).hexdigest()
        public, secret = a.export_keypair()
        b = await Agent.builder().with_agent_key(public, secret).with_runtime(rt).build()
        assert b.agent_id == a.agent_id
        c = await Agent.builder().with_agent_key(path.read_bytes()).with_runtime(rt).build()
        assert c.agent_id == a.agent_id
        with pytest.raises(InvalidArgumentError, match="Invalid agent keypair"):
            await (
                Agent.builder()
                .with_agent_key(public, secret[:200] + b"\xff" + secret[201:])
                .with_runtime(rt)
                .build()
            )
        with pytest.raises(InvalidArgumentError, match="Invalid agent keypair"):
            await Agent.builder().with_agent_key(public[:-1], secret).with_runtime(rt).build()

    run(main)


def test_a_corrupt_key_file_is_an_error_and_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "agent.key"
    path.write_bytes(b"\xa0\x07" + b"\0" * 100)

    async def main() -> None:
        with pytest.raises(InvalidArgumentError, match=r"agent\.key: .*not a valid x0x key file"):
            await Agent.builder().with_agent_key_path(path).with_storage("memory://").build()

    run(main)
    assert path.read_bytes() == b"\xa0\x07" + b"\0" * 100


def test_a_builder_is_used_once() -> None:
    b = Agent.builder()
    nxt = b.with_storage("memory://")
    with pytest.raises(ValueError, match="already consumed"):
        b.with_storage("memory://")
    run(nxt.build)
    with pytest.raises(ValueError, match="already consumed by previous build"):
        run(nxt.build)


# -- pub/sub --------------------------------------------------------------------


def test_publish_delivers_to_every_subscriber_including_the_publishers_own(tmp_path: Path) -> None:
    async def main() -> None:
        db = str(tmp_path / "bus.db")
        alice, bob = await agent_on(db, "alice"), await agent_on(db, "bob")
        subs = [alice.subscribe("news"), bob.subscribe("news"), bob.subscribe("news")]
        other = bob.subscribe("sport")
        await alice.publish("news", b"one")
        await alice.publish("news", b"one")  # the same payload twice: two messages
        for sub in subs:
            got = [await sub.__anext__(), await sub.__anext__()]
            assert [m.payload for m in got] == [b"one", b"one"]
            assert {m.sender for m in got} == {alice.agent_id}
            assert got[0].id != got[1].id
            assert abs(got[0].timestamp - __import__("time").time()) < 60
        other.close()
        assert [m async for m in other] == []
        await alice.leave_network()
        await bob.leave_network()

    run(main)


def test_concurrent_publishes_are_signed_together_and_arrive_one_by_one(tmp_path: Path) -> None:
    async def main() -> None:
        db = str(tmp_path / "bus.db")
        a, b = await agent_on(db, "a"), await agent_on(db, "b")
        sub = b.subscribe("burst")
        ids = await asyncio.gather(*(a.publish("burst", f"m{i}".encode()) for i in range(50)))
        many = await a.publish_many("burst", [b"x", b"y"])
        entries = SQLiteBus(db).read("burst", "0", 1000, 0)
        assert len(entries) < 20, f"{len(entries)} envelopes for 52 messages"
        got = [await sub.__anext__() for _ in range(52)]
        assert [m.payload for m in got] == [f"m{i}".encode() for i in range(50)] + [b"x", b"y"]
        assert [m.id for m in got] == [*ids, *many] and len(set(ids)) == 50
        with pytest.raises(TypeError, match="list of bytes"):
            await a.publish_many("burst", b"xy")  # type: ignore[arg-type]
        await a.leave_network()
        await b.leave_network()

    run(main)


def test_a_subscription_can_be_cancelled_and_closed() -> None:
    async def main() -> None:
        a = await agent_on("memory://", "a")
        sub = a.subscribe("t")
        waiting = asyncio.create_task(sub.__anext__())
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await a.publish("t", b"after")
        assert (await sub.__anext__()).payload == b"after"
        sub.close()
        sub.close()
        assert sub.closed
        with pytest.raises(StopAsyncIteration):
            await sub.__anext__()
        await a.leave_network()

    run(main)


def test_tampered_forged_and_garbage_envelopes_are_refused_and_counted(tmp_path: Path) -> None:
    async def main() -> None:
        db = str(tmp_path / "bus.db")
        a, b = await agent_on(db, "a"), await agent_on(db, "b")
        sub = b.subscribe("t")
        mesh = a.runtime.exports.mesh
        good = mesh.seal(a._keys, "message", "t", b"real".hex())
        raw = bytearray.fromhex(good)
        raw[-1] ^= 1
        bus = SQLiteBus(db)
        bus.publish("t", raw.hex())  # altered payload
        bus.publish("t", "zz")  # not hex
        bus.publish("t", "0300")  # truncated
        bus.publish("t", mesh.seal(a._keys, "message", "other-topic", b"x".hex()))  # replayed elsewhere
        bus.publish("t", good)
        bus.publish("t", good)  # replayed: dropped as a duplicate
        await a.publish("t", b"last")
        got = [await sub.__anext__(), await sub.__anext__()]
        assert [m.payload for m in got] == [b"real", b"last"]
        assert b.stats["rejected"] == 4
        assert b.stats["rejected_bad-signature"] == 1
        assert b.stats["rejected_malformed"] == 2
        assert b.stats["rejected_wrong-topic"] == 1
        assert b.stats["duplicates"] == 1 and sub.duplicates == 1
        await a.leave_network()
        await b.leave_network()

    run(main)


def test_publish_refuses_bad_input_and_needs_the_network() -> None:
    async def main() -> None:
        a = await Agent.builder().with_storage("memory://").build()
        assert not a.is_connected()
        with pytest.raises(TransportError, match="join_network"):
            await a.publish("t", b"x")
        await a.join_network()
        assert a.is_connected()
        with pytest.raises(InvalidArgumentError, match="topic"):
            await a.publish("", b"x")
        with pytest.raises(TypeError, match="payload must be bytes"):
            await a.publish("t", "text")  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="topic"):
            await a.publish("x" * 70_000, b"")
        await a.leave_network()
        assert not a.is_connected()

    run(main)


def test_a_bus_that_refuses_is_a_transport_error() -> None:
    class DownBus(MemoryBus):
        def publish(self, topic: str, envelope: str) -> None:  # noqa: ARG002
            raise TransportError("disk full")

    async def main() -> None:
        bus = DownBus()
        a = await Agent.builder().with_runtime(Runtime(":memory:", bus=bus)).build()
        with pytest.raises(TransportError):
            await a.join_network()
        a._joined = True
        with pytest.raises(TransportError, match="disk full"):
            await a.publish("t", b"x")
        assert a.runtime.exports.meta.health_check() if hasattr(a.runtime.exports, "meta") else True

    run(main)


# -- events ---------------------------------------------------------------------


def test_events_come_from_real_traffic(tmp_path: Path) -> None:
    async def main() -> None:
        db = str(tmp_path / "bus.db")
        seen: list[tuple[str, dict[str, Any]]] = []
        a = await Agent.builder().with_agent_key_path(tmp_path / "a.key").with_storage(db).build()
        for event in ("connected", "disconnected", "peer_joined", "task_updated", "message"):
            a.on(event, lambda d, e=event: seen.append((e, d)))
        noisy = lambda _d: 1 / 0  # noqa: E731  a raising callback does not stop the others
        a.on("connected", noisy)
        await a.join_network()
        assert seen[0] == ("connected", {"peer_id": a.peer_id()})
        b = await agent_on(db, "b")
        for _ in range(100):
            if any(e == "peer_joined" for e, _ in seen):
                break
            await asyncio.sleep(0.05)
        joined = [d for e, d in seen if e == "peer_joined"]
        assert joined and joined[0]["agent_id"] == b.agent_id.to_hex() and joined[0]["peer_id"] == b.peer_id()
        assert a.peers() == [b.agent_id]
        tl = await a.create_task_list("team")
        tid = await tl.add_task("x")
        await tl.claim_task(tid)
        updates = [d for e, d in seen if e == "task_updated"]
        assert updates[-1]["task_id"] == tid.to_hex() and updates[-1]["status"] == "claimed"
        assert updates[-1]["assignee"] == a.agent_id.to_hex()
        sub = a.subscribe("m")
        await b.publish("m", b"hi")
        await sub.__anext__()
        assert ("message", {"topic": "m", "sender": b.agent_id.to_hex(), "payload": b"hi"}) in seen
        a.off("connected", noisy)
        a.off("connected", noisy)  # unknown now: a no-op
        with pytest.raises(InvalidArgumentError, match="unknown event"):
            a.on("connectd", print)
        tl.close()
        await a.leave_network()
        assert seen[-1] == ("disconnected", {"peer_id": a.peer_id()})
        await b.leave_network()

    run(main)


# -- task lists -------------------------------------------------------------------


def test_task_lists_follow_upstreams_rules(tmp_path: Path) -> None:
    async def main() -> None:
        db = str(tmp_path / "bus.db")
        a = await agent_on(db, "a")
        tl = await TaskList.create("sprint", agent=a)
        assert tl.name == "sprint" and tl.topic == "tasklist/sprint" and len(tl.id) == 64
        t1 = await tl.add_task("write", "the docs")
        t2 = await tl.add_task("test", priority=200)
        items = tl.get_tasks()
        assert [i.title for i in items] == ["write", "test"]
        assert items[0].status is TaskStatus.Empty and items[0].status == "empty"
        assert items[0].priority == 128 and items[1].priority == 200 and items[0].description == "the docs"
        assert str(items[0]) == "[empty] write" and repr(items[0]).startswith("TaskItem(id='")
        with pytest.raises(InvalidArgumentError, match="claimed before completion"):
            await tl.complete_task(t1)
        await tl.claim_task(t1, a.agent_id)
        await tl.complete_task(str(t1))
        with pytest.raises(InvalidArgumentError, match="already done"):
            await tl.claim_task(t1)
        with pytest.raises(InvalidArgumentError, match="already done"):
            await tl.complete_task(t1)
        with pytest.raises(NotFoundError, match="task not found"):
            await tl.claim_task("00" * 32)
        with pytest.raises(InvalidArgumentError, match="Invalid task ID hex"):
            await tl.claim_task("nothex")
        with pytest.raises(InvalidArgumentError, match="only as itself"):
            await tl.claim_task(t2, AgentId.from_hex("11" * 32))
        with pytest.raises(InvalidArgumentError, match="not one string"):
            await tl.reorder(t1.to_hex())  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="priority"):
            await tl.set_priority(t2, 256)
        await tl.reorder([t2, t1])
        await tl.set_priority(t1, 7)
        items = await tl.list_tasks()
        assert [i.title for i in items] == ["test", "write"]
        assert items[1].status is TaskStatus.Done and items[1].assignee == a.agent_id.to_hex()
        assert items[1].completed_by == a.agent_id.to_hex() and items[1].priority == 7
        with pytest.raises(NotFoundError, match="nobody created"):
            await a.join_task_list("tasklist/none")
        tl.close()
        await a.leave_network()

    run(main)


def test_a_joiner_finds_the_creators_list_and_both_converge(tmp_path: Path) -> None:
    async def main() -> None:
        db_a, db_b = str(tmp_path / "a.db"), str(tmp_path / "b.db")
        bus = MemoryBus()  # one bus, two machines' storage
        a = (
            await Agent.builder()
            .with_agent_key_path(tmp_path / "a.key")
            .with_runtime(Runtime(db_a, bus=bus))
            .build()
        )
        b = (
            await Agent.builder()
            .with_agent_key_path(tmp_path / "b.key")
            .with_runtime(Runtime(db_b, bus=bus))
            .build()
        )
        await a.join_network()
        await b.join_network()
        la = await a.create_task_list("team", "teams/core")
        t = await la.add_task("shared")
        lb = await b.join_task_list("teams/core")
        assert lb.id == la.id and lb.name == "team"
        assert [i.title for i in lb.get_tasks()] == ["shared"]
        # Concurrent claims: the earliest wins on both replicas.
        await lb.claim_task(t)
        await la.claim_task(t)
        await la.sync()
        await lb.sync()
        assert la.get_tasks() == lb.get_tasks()
        assert la.get_tasks()[0].assignee == b.agent_id.to_hex()
        await la.complete_task(t)  # any agent may complete a claimed task (upstream)
        await lb.sync()
        assert lb.get_tasks()[0].status is TaskStatus.Done
        for tl in (la, lb):
            tl.close()
        await a.leave_network()
        await b.leave_network()

    run(main)


# -- the seed's four examples ------------------------------------------------------


@pytest.mark.parametrize("name", ["basic_agent", "pubsub_messaging", "task_collaboration", "event_callbacks"])
def test_the_seeds_examples_run(name: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "AGENTCELL_STORAGE": str(tmp_path / "data.db"), "HOME": str(tmp_path)}
    env.pop("AGENTCELL_MESH_HOME", None)  # the examples use the default places
    done = subprocess.run(
        [sys.executable, str(repo / "examples" / "mesh" / f"{name}.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    if name == "basic_agent":
        assert (tmp_path / ".x0x" / "agent.key").stat().st_size == 6000
