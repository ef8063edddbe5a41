"""Workflow worker benchmark: agentcell's durable embedded engine against Huey on SQLite,
same handlers, same machine, same run, two worker processes each.

    .venv/bin/python benches/worker.py [--tasks 2000] [--diamonds 100]

1. No-op steps per second: N one-step tasks queued, then two worker processes (8
   threads each) drain them; the time from spawning the workers to the client having
   read the last result, the same for every system (so each one's start-up counts:
   about half a second for each, which is why N is large).
2. A 4-step diamond's end-to-end latency (p50, p99), one task at a time, from the
   create call to the final result being readable by the client. agentcell runs the
   DAG in its engine; Huey has no DAG, so its client enqueues each stage when the one
   before has answered (what a Huey user writes), with its results in the same file.

On Redis (several machines' setup), agentcell's workers on `redis://` against Celery with
Redis as broker and result backend (threads pool, 8 per process, late acks), the
diamond as a Celery chord (`square | group(add, double) | average`).

Huey is measured twice: with `fsync=True` (a sync per commit: the durability of
agentcell's default SQLite storage, which acknowledges a write only once it is on disk)
and with Huey's default (no sync: survives a process crash, not a power loss), against
agentcell with `?synchronous=normal` (the same promise).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHES = Path(__file__).resolve().parent
PY = sys.executable
sys.path.insert(0, str(BENCHES))

NOOP = {"name": "noop1", "steps": [{"name": "only", "handler": {"callable": "noop"}}]}
DIAMOND = {
    "name": "diamond",
    "steps": [
        {"name": "start", "handler": {"callable": "square"}},
        {"name": "left", "handler": {"callable": "add"}, "dependencies": ["start"]},
        {"name": "right", "handler": {"callable": "double"}, "dependencies": ["start"]},
        {
            "name": "end",
            "handler": {"callable": "average"},
            "dependencies": ["left", "right"],
        },
    ],
}


def agentcell_workers(db: Path | str) -> list[subprocess.Popen[str]]:
    procs = [
        subprocess.Popen(
            [
                PY,
                "-m",
                "agentcell.worker",
                "--storage",
                str(db),
                "--handlers",
                "worker_apps.agentcell_handlers",
                "--concurrency",
                "8",
                "--poll",
                "0.005",
                "--log-level",
                "WARNING",
                "--worker-id",
                f"w{i}",
            ],
            cwd=BENCHES,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for p in procs:
        assert p.stdout is not None and "ready" in p.stdout.readline()
    return procs


def huey_workers(db: Path, fsync: bool) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "HUEY_DB": str(db), "HUEY_FSYNC": "1" if fsync else "0"}
    consumer = str(Path(PY).parent / "huey_consumer")
    procs = [
        subprocess.Popen(
            [
                PY,
                consumer,
                "worker_apps.huey_app.huey",
                "-w",
                "8",
                "-k",
                "thread",
                "-d",
                "0.005",
                "-m",
                "0.005",
                "-b",
                "1.0",
                "-q",
            ],
            cwd=BENCHES,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    return procs  # no start signal to wait on: the queued tasks are taken once it is up


def celery_workers(url: str) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "CELERY_REDIS": url}
    procs = [
        subprocess.Popen(
            [
                PY,
                "-m",
                "celery",
                "-A",
                "worker_apps.celery_app",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                "8",
                "--loglevel",
                "WARNING",
                "-n",
                f"w{i}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=BENCHES,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(2)
    ]
    return procs  # no start signal to wait on: the queued tasks are taken once it is up


def bench_celery(url: str, tasks: int, diamonds: int) -> tuple[float, list[float]]:
    os.environ["CELERY_REDIS"] = url
    from celery import chain, group
    from worker_apps import celery_app as c

    results = [c.noop.delay() for _ in range(tasks)]
    started = time.perf_counter()
    procs = celery_workers(url)
    for r in results:
        r.get(timeout=600, interval=0.005)
    rate = tasks / (time.perf_counter() - started)
    latencies = []
    for i in range(diamonds):
        t0 = time.perf_counter()
        flow = chain(c.square.s(2 * i), group(c.add.s(), c.double.s()), c.average.s())
        value = flow.apply_async().get(timeout=60, interval=0.001)
        latencies.append((time.perf_counter() - t0) * 1000)
        assert value == ((2 * i) ** 2 * 3 + 25) / 2
    stop(procs)
    # Results unsubscribe from the backend when collected: while the server still runs.
    import gc

    del results
    gc.collect()
    return rate, latencies


def redis_server() -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


def stop(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(20)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_agentcell(
    tmp: Path, tasks: int, diamonds: int, storage: str | None = None
) -> tuple[float, list[float]]:
    from agentcell.worker import TaskerClient

    db: Path | str = storage or tmp / "agentcell.db"
    client = TaskerClient(storage=db)
    client.register_template(NOOP)
    client.register_template(DIAMOND)
    made = [client.create_task("noop1").task_uuid for _ in range(tasks)]
    started = time.perf_counter()
    procs = agentcell_workers(db)
    client.wait_for_task(made[-1], timeout=600, poll=0.005)
    for uuid in made:
        assert client.wait_for_task(uuid, timeout=600, poll=0.005).status == "complete"
    rate = tasks / (time.perf_counter() - started)
    latencies = []
    for i in range(diamonds):
        t0 = time.perf_counter()
        task = client.create_task("diamond", context={"n": 2 * i})
        done = client.wait_for_task(task.task_uuid, timeout=60, poll=0.001)
        latencies.append((time.perf_counter() - t0) * 1000)
        assert done.steps[3].results["result"]["value"] == ((2 * i) ** 2 * 3 + 25) / 2
    stop(procs)
    client.close()
    return rate, latencies


def bench_huey(tmp: Path, tasks: int, diamonds: int, fsync: bool) -> tuple[float, list[float]]:
    os.environ["HUEY_DB"] = str(tmp / f"huey-{fsync}.db")
    os.environ["HUEY_FSYNC"] = "1" if fsync else "0"
    import importlib

    from worker_apps import huey_app

    app = importlib.reload(huey_app)
    results = [app.noop() for _ in range(tasks)]
    started = time.perf_counter()
    procs = huey_workers(Path(os.environ["HUEY_DB"]), fsync)
    for r in results:
        r.get(blocking=True, timeout=600, backoff=1.0, max_delay=0.005)
    rate = tasks / (time.perf_counter() - started)
    latencies = []

    def wait(result: Callable[..., object]) -> object:
        return result.get(blocking=True, timeout=60, backoff=1.0, max_delay=0.001)  # type: ignore[attr-defined]

    for i in range(diamonds):
        t0 = time.perf_counter()
        start = wait(app.square(2 * i))
        left, right = app.add(start), app.double(start)
        value = wait(app.average(wait(left), wait(right)))
        latencies.append((time.perf_counter() - t0) * 1000)
        assert value == ((2 * i) ** 2 * 3 + 25) / 2
    stop(procs)
    return rate, latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--diamonds", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ours = bench_agentcell(tmp, args.tasks, args.diamonds)
        relaxed = f"sqlite:///{tmp}/agentcell-normal.db?synchronous=normal"
        ours_normal = bench_agentcell(tmp, args.tasks, args.diamonds, storage=relaxed)
        huey_sync = bench_huey(tmp, args.tasks, args.diamonds, fsync=True)
        huey_fast = bench_huey(tmp, args.tasks, args.diamonds, fsync=False)
        server, url = redis_server()
        try:
            ours_redis = bench_agentcell(tmp, args.tasks, args.diamonds, storage=url)
            celery = bench_celery(url.replace("/0", "/1"), args.tasks, args.diamonds)
        finally:
            server.terminate()
            server.wait()
    print(f"no-op steps/s, 2 worker processes, {args.tasks} tasks (higher is better)")
    print(f"  agentcell (SQLite, synchronous=FULL)   {ours[0]:9.0f}")
    print(
        f"  Huey SqliteHuey fsync=True             {huey_sync[0]:9.0f}   agentcell/Huey = "
        f"{ours[0] / huey_sync[0]:.2f}x"
    )
    print(f"  agentcell (SQLite, synchronous=NORMAL) {ours_normal[0]:9.0f}")
    print(
        f"  Huey SqliteHuey default (no sync)      {huey_fast[0]:9.0f}   agentcell NORMAL/Huey = "
        f"{ours_normal[0] / huey_fast[0]:.2f}x"
    )
    print(f"  agentcell (Redis)                      {ours_redis[0]:9.0f}")
    print(
        f"  Celery (Redis broker and backend)      {celery[0]:9.0f}   agentcell/Celery = "
        f"{ours_redis[0] / celery[0]:.2f}x"
    )
    print(f"4-step diamond end to end, ms, {args.diamonds} tasks one at a time (lower is better)")
    for label, (_, lat) in (
        ("agentcell", ours),
        ("Huey fsync=True", huey_sync),
        ("agentcell (synchronous=NORMAL)", ours_normal),
        ("Huey default", huey_fast),
        ("agentcell (Redis)", ours_redis),
        ("Celery chord (Redis)", celery),
    ):
        p50, p99 = statistics.median(lat), percentile(lat, 0.99)
        print(
            f"  {label:<38} p50 {p50:7.2f}  p99 {p99:7.2f}   p50 / agentcell's (SQLite) = "
            f"{p50 / statistics.median(ours[1]):.2f}x"
        )


if __name__ == "__main__":
    main()
