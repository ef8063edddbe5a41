"""One side of the mesh benchmark, in its own process.

    peer.py sub    BUS COUNT            agentcell subscriber (signed, verified, deduplicated)
    peer.py pub    BUS COUNT INTERVAL [N] agentcell publisher (INTERVAL s between messages; 0: flood;
                                        N concurrent publishes at a time, signed together)
    peer.py rawsub REDIS COUNT          redis-py pub/sub subscriber, no signatures
    peer.py rawpub REDIS COUNT INTERVAL redis-py publisher

Payloads are 1 KiB and start with the send time (ns); a subscriber prints one JSON line:
receive count, distinct count, latencies (ms) and its last receive time.
"""

from __future__ import annotations

import asyncio
import json
import struct
import sys
import tempfile
import time
from pathlib import Path

TOPIC = "bench/mesh"
SIZE = 1024


def payload() -> bytes:
    return struct.pack("<q", time.time_ns()).ljust(SIZE, b"x")


def report(latencies: list[float], ids: set[str], received: int) -> None:
    print(
        json.dumps(
            {
                "received": received,
                "distinct": len(ids),
                "latencies_ms": latencies,
                "last": time.time(),
            }
        ),
        flush=True,
    )


def open_bus(url: str):
    from agentcell.bus import RedisBus, SQLiteBus

    return RedisBus(url) if url.startswith("redis://") else SQLiteBus(url)


async def agent(url: str):
    from agentcell._wasm import Runtime
    from agentcell.mesh import Agent

    keys = Path(tempfile.mkdtemp()) / "agent.key"
    a = (
        await Agent.builder()
        .with_agent_key_path(keys)
        .with_runtime(Runtime(":memory:", bus=open_bus(url)))
        .build()
    )
    await a.join_network()
    return a


async def sub(url: str, count: int) -> None:
    a = await agent(url)
    s = a.subscribe(TOPIC)
    print("ready", flush=True)
    latencies, ids, received = [], set(), 0
    async for msg in s:
        latencies.append((time.time_ns() - struct.unpack("<q", msg.payload[:8])[0]) / 1e6)
        ids.add(msg.id)
        received += 1
        if received >= count:
            break
    report(latencies, ids, received)
    await a.leave_network()


async def pub(url: str, count: int, interval: float, together: int) -> None:
    a = await agent(url)
    print("ready", flush=True)
    sys.stdin.readline()
    sent = 0
    while sent < count:
        n = min(together, count - sent)
        # `together` > 1: concurrent publishes, which the agent signs as one batch.
        await asyncio.gather(*(a.publish(TOPIC, payload()) for _ in range(n)))
        sent += n
        if interval:
            await asyncio.sleep(interval)
    print("done", flush=True)
    await a.leave_network()


def rawsub(url: str, count: int) -> None:
    import redis

    ps = redis.Redis.from_url(url).pubsub()
    ps.subscribe(TOPIC)
    ps.get_message(timeout=5)  # the subscribe confirmation
    print("ready", flush=True)
    latencies, received = [], 0
    while received < count:
        m = ps.get_message(timeout=30)
        if m is None or m["type"] != "message":
            continue
        latencies.append((time.time_ns() - struct.unpack("<q", m["data"][:8])[0]) / 1e6)
        received += 1
    report(latencies, set(range(received)), received)


def rawpub(url: str, count: int, interval: float) -> None:
    import redis

    r = redis.Redis.from_url(url)
    print("ready", flush=True)
    sys.stdin.readline()
    for _ in range(count):
        r.publish(TOPIC, payload())
        if interval:
            time.sleep(interval)
    print("done", flush=True)


if __name__ == "__main__":
    mode, url, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    together = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    if mode == "sub":
        asyncio.run(sub(url, count))
    elif mode == "pub":
        asyncio.run(pub(url, count, interval, together))
    elif mode == "rawsub":
        rawsub(url, count)
    else:
        rawpub(url, count, interval)
