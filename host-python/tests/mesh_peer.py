"""One mesh agent in its own OS process, driven by test_mesh_processes.py.

    python mesh_peer.py publish   --storage DB --bus URL --key K --topic T --count N --prefix P
    python mesh_peer.py subscribe --storage DB --bus URL --key K --topic T --durable NAME --out FILE --count N
    python mesh_peer.py tasks     --storage DB --bus URL --key K --topic T --adds N --claims N --peers N

`--bus`: `sqlite:///path` (the SQLite bus in that file) or `redis://...` (Streams).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys

from agentcell._wasm import Runtime
from agentcell.bus import Bus, RedisBus, SQLiteBus
from agentcell.mesh import Agent


def open_bus(url: str) -> Bus:
    if url.startswith("redis://"):
        return RedisBus(url)
    return SQLiteBus(url.removeprefix("sqlite:///"))


async def agent(args: argparse.Namespace) -> Agent:
    rt = Runtime(args.storage, bus=open_bus(args.bus))
    a = await Agent.builder().with_agent_key_path(args.key).with_runtime(rt).build()
    await a.join_network()
    return a


async def publish(args: argparse.Namespace) -> None:
    a = await agent(args)
    for i in range(args.count):
        await a.publish(args.topic, f"{args.prefix}-{i}".encode())
    print("published", flush=True)
    await a.leave_network()


async def subscribe(args: argparse.Namespace) -> None:
    a = await agent(args)
    sub = a.subscribe(args.topic, durable=args.durable)
    print("subscribed", flush=True)
    with open(args.out, "a") as out:
        have = len(open(args.out).readlines())  # noqa: SIM115
        async for msg in sub:
            out.write(f"{msg.id} {msg.payload.decode()} {msg.sender.to_hex()}\n")
            out.flush()
            os.fsync(out.fileno())
            have += 1
            if have >= args.count:
                break
    sub.close()
    print("received", flush=True)
    await a.leave_network()


async def tasks(args: argparse.Namespace) -> None:
    a = await agent(args)
    tl = await a.create_task_list("shared", args.topic)
    for i in range(args.adds):
        await tl.add_task(f"{a.agent_id.to_hex()[:6]}-{i}")
    # Wait until every peer's tasks arrived, then claim some at random (they race).
    while len(await tl.list_tasks()) < args.adds * args.peers:
        await asyncio.sleep(0.05)
    for item in random.sample(tl.get_tasks(), args.claims):
        await tl.claim_task(item.id)
    print("claimed", flush=True)
    sys.stdin.readline()  # the test says when everyone is done
    await tl.sync()
    print(json.dumps([[t.id, t.status.value, t.assignee, t.priority] for t in tl.get_tasks()]), flush=True)
    tl.close()
    await a.leave_network()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["publish", "subscribe", "tasks"])
    for flag in ("--storage", "--bus", "--key", "--topic"):
        p.add_argument(flag, required=True)
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--prefix", default="m")
    p.add_argument("--durable")
    p.add_argument("--out")
    p.add_argument("--adds", type=int, default=0)
    p.add_argument("--claims", type=int, default=0)
    p.add_argument("--peers", type=int, default=1)
    args = p.parse_args()
    asyncio.run({"publish": publish, "subscribe": subscribe, "tasks": tasks}[args.mode](args))


if __name__ == "__main__":
    main()
