"""The mesh across OS processes: signed messages between processes on the SQLite bus
and on a real redis-server, a durable subscriber killed with kill -9 that catches up
without duplicates, and three processes converging one task list."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PEER = Path(__file__).with_name("mesh_peer.py")


@pytest.fixture(params=["sqlite", "redis"])
def bus_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return f"sqlite:///{tmp_path / 'bus.db'}"


def peer(
    tmp_path: Path, bus: str, name: str, *args: str, stdin: bool = False, key: str | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            str(PEER),
            *args[:1],
            "--storage",
            str(tmp_path / f"{name}.db"),
            "--bus",
            bus,
            "--key",
            str(tmp_path / f"{key or name}.key"),
            *args[1:],
        ],
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE if stdin else None,
        text=True,
        env={**os.environ, "AGENTCELL_MESH_HOME": str(tmp_path / "home")},
    )


def wait_line(proc: subprocess.Popen[str], want: str, timeout: float = 60) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip() == want:
            return
        assert line, f"peer exited ({proc.poll()}) before printing {want!r}"
    raise AssertionError(f"no {want!r} within {timeout} s")


def lines(path: Path) -> list[list[str]]:
    return [ln.split() for ln in path.read_text().splitlines()] if path.exists() else []


def test_two_then_three_processes_exchange_signed_messages(tmp_path: Path, bus_url: str) -> None:
    out = tmp_path / "got.txt"
    sub = peer(
        tmp_path,
        bus_url,
        "sub",
        "subscribe",
        "--topic",
        "news",
        "--durable",
        "s",
        "--out",
        str(out),
        "--count",
        "40",
    )
    wait_line(sub, "subscribed")
    pubs = [
        peer(tmp_path, bus_url, f"pub{i}", "publish", "--topic", "news", "--count", "20", "--prefix", f"p{i}")
        for i in range(2)
    ]
    for p in pubs:
        assert p.wait(timeout=120) == 0
    wait_line(sub, "received")
    got = lines(out)
    assert sorted(g[1] for g in got) == sorted(f"p{i}-{j}" for i in range(2) for j in range(20))
    assert len({g[0] for g in got}) == 40, "no duplicates"
    assert len({g[2] for g in got}) == 2, "two senders, each verified"
    # Order per publisher is publish order.
    for i in range(2):
        mine = [g[1] for g in got if g[1].startswith(f"p{i}-")]
        assert mine == [f"p{i}-{j}" for j in range(20)]


def test_processes_under_one_agent_identity_receive_each_others_messages(
    tmp_path: Path, bus_url: str
) -> None:
    out = tmp_path / "got.txt"
    sub = peer(
        tmp_path,
        bus_url,
        "sub",
        "subscribe",
        "--topic",
        "self",
        "--durable",
        "s",
        "--out",
        str(out),
        "--count",
        "5",
        key="shared",
    )
    wait_line(sub, "subscribed")
    pub = peer(tmp_path, bus_url, "pub", "publish", "--topic", "self", "--count", "5", key="shared")
    assert pub.wait(timeout=120) == 0
    wait_line(sub, "received")
    got = lines(out)
    assert [g[1] for g in got] == [f"m-{i}" for i in range(5)]
    assert len({g[2] for g in got}) == 1, "one identity"


def test_a_subscriber_killed_with_kill_9_catches_up_without_duplicates(tmp_path: Path, bus_url: str) -> None:
    out = tmp_path / "got.txt"
    args = ("subscribe", "--topic", "jobs", "--durable", "worker", "--out", str(out), "--count", "30")
    sub = peer(tmp_path, bus_url, "sub", *args)
    wait_line(sub, "subscribed")
    first = peer(tmp_path, bus_url, "pub", "publish", "--topic", "jobs", "--count", "10", "--prefix", "a")
    assert first.wait(timeout=120) == 0
    deadline = time.monotonic() + 60
    while len(lines(out)) < 10:
        assert time.monotonic() < deadline, "the first ten never arrived"
        time.sleep(0.02)
    time.sleep(0.3)  # idle, waiting for the next message
    os.kill(sub.pid, signal.SIGKILL)
    sub.wait()
    # Published while the subscriber is down.
    second = peer(tmp_path, bus_url, "pub", "publish", "--topic", "jobs", "--count", "20", "--prefix", "b")
    assert second.wait(timeout=120) == 0
    again = peer(tmp_path, bus_url, "sub", *args)
    wait_line(again, "received")
    got = [g[1] for g in lines(out)]
    assert got == [f"a-{i}" for i in range(10)] + [f"b-{i}" for i in range(20)]


def test_three_processes_converge_one_task_list(tmp_path: Path, bus_url: str) -> None:
    names = ["ann", "bob", "cat"]
    procs = [
        peer(
            tmp_path,
            bus_url,
            n,
            "tasks",
            "--topic",
            "team/board",
            "--adds",
            "4",
            "--claims",
            "6",
            "--peers",
            "3",
            stdin=True,
        )
        for n in names
    ]
    for p in procs:
        wait_line(p, "claimed", timeout=120)
    finals = []
    for p in procs:
        assert p.stdin is not None and p.stdout is not None
        p.stdin.write("\n")
        p.stdin.flush()
    for p in procs:
        assert p.stdout is not None
        finals.append(p.stdout.readline().strip())
        assert p.wait(timeout=60) == 0
    assert finals[0] == finals[1] == finals[2], "replicas differ"
    import json

    tasks = json.loads(finals[0])
    assert len(tasks) == 12
    assert all(t[1] in ("empty", "claimed") for t in tasks)
    assert sum(t[1] == "claimed" for t in tasks) >= 6


def test_the_rust_host_and_python_meet_on_one_sqlite_bus(tmp_path: Path) -> None:
    import asyncio
    import json

    from agentcell._wasm import Runtime
    from agentcell.mesh import Agent

    from .conftest import AGENTCELL

    db = tmp_path / "shared.db"
    rust = [str(AGENTCELL), "mesh", "--data", str(db), "--key", str(tmp_path / "rust.key")]
    rust_id = subprocess.run([*rust, "id"], capture_output=True, text=True, check=True).stdout.strip()

    async def main() -> None:
        a = await Agent.builder().with_agent_key_path(tmp_path / "py.key").with_runtime(Runtime(db)).build()
        await a.join_network()
        sub = a.subscribe("news")
        subprocess.run([*rust, "publish", "news", "from rust", "again"], check=True, capture_output=True)
        got = [await sub.__anext__(), await sub.__anext__()]
        assert [m.payload for m in got] == [b"from rust", b"again"]
        assert {m.sender.to_hex() for m in got} == {rust_id}
        # Python publishes, the Rust subscriber prints it.
        reader = subprocess.Popen(
            [*rust, "subscribe", "py", "--count", "1", "--from-start"], stdout=subprocess.PIPE, text=True
        )
        await a.publish("py", b"from python")
        line = json.loads(reader.communicate(timeout=60)[0])
        assert line["payload"] == "from python" and line["sender"] == a.agent_id.to_hex()
        # One task list: Python creates it, Rust claims, both see the same.
        tl = await a.create_task_list("shared", "board")
        tid = await tl.add_task("ship it")
        subprocess.run([*rust, "claim", "board", tid.to_hex()], check=True, capture_output=True)
        items = await tl.list_tasks()
        assert items[0].status == "claimed" and items[0].assignee == rust_id
        view = json.loads(
            subprocess.run([*rust, "list", "board"], capture_output=True, text=True, check=True).stdout
        )
        assert view["tasks"][0]["state"] == "claimed" and view["tasks"][0]["assignee"] == rust_id
        tl.close()
        await a.leave_network()

    asyncio.run(main())
