"""Worker processes sharing one storage (`python -m agentcell.worker`), a SQLite file and
then a Redis server: two of them run diamonds together, and a worker killed with SIGKILL
mid-step has its step finished by the other, the audit showing both attempts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentcell.worker import TaskerClient

HERE = Path(__file__).parent
TEMPLATES = HERE / "worker_templates"


@pytest.fixture(params=["sqlite", "redis", "postgres"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The storage URL every process of the test shares."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tasks.db'}"
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


def start_worker(storage: str, logs: Path, worker_id: str, *extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agentcell.worker",
            "--storage",
            storage,
            "--worker-id",
            worker_id,
            "--handlers",
            "tests.worker_handlers",
            "--handlers",
            "tests.worker_extra",
            "--poll",
            "0.02",
            *extra,
        ],
        cwd=HERE.parent,
        stdout=subprocess.PIPE,
        stderr=(logs / f"{worker_id}.log").open("w"),  # its log, kept with the test's files
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith(f"worker {worker_id} ready"), line
    return proc


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def test_two_worker_processes_run_diamonds_on_one_storage(
    tmp_path: Path, storage: str, workers: list[subprocess.Popen[str]]
) -> None:
    client = TaskerClient(storage=storage)
    client.register_template(TEMPLATES / "diamond.yaml")
    workers += [start_worker(storage, tmp_path, "alpha"), start_worker(storage, tmp_path, "beta")]
    tasks = [
        client.create_task("diamond_workflow", namespace="diamond_workflow", context={"even_number": 2 * i})
        for i in range(1, 21)
    ]
    seen: set[str] = set()
    for i, task in enumerate(tasks, start=1):
        done = client.wait_for_task(task.task_uuid, timeout=60)
        assert done.status == "complete", done.status
        n = 2 * i
        assert done.steps[3].results["result"] == {"result": ((n * n + 25) + n * n * 2) / 2}
        for step in done.steps:
            audit = client.get_step_audit_history(done.task_uuid, step.step_uuid)
            assert [a.to_state for a in audit] == ["in_progress", "complete"]  # each step once
            seen.add(audit[-1].worker_uuid)
    assert seen == {"alpha", "beta"}, "both processes took steps"
    client.close()


def test_a_worker_killed_mid_step_has_its_step_finished_by_another(
    tmp_path: Path, storage: str, workers: list[subprocess.Popen[str]]
) -> None:
    marker = tmp_path / "started"
    client = TaskerClient(storage=storage)
    client.register_template(
        {
            "name": "crashy",
            "steps": [
                {"name": "first", "handler": {"callable": "noop"}},
                {"name": "slow", "handler": {"callable": "slow_first_time"}, "dependencies": ["first"]},
                {"name": "last", "handler": {"callable": "who"}, "dependencies": ["slow"]},
            ],
        }
    )
    doomed = start_worker(storage, tmp_path, "doomed", "--lease", "1.5")
    workers.append(doomed)
    task = client.create_task("crashy", context={"marker": str(marker)})
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline, "the slow step never started"
        time.sleep(0.02)
    assert int(marker.read_text()) == doomed.pid
    workers.append(start_worker(storage, tmp_path, "survivor"))
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(10)
    done = client.wait_for_task(task.task_uuid, timeout=30)
    assert done.status == "complete"
    slow = done.steps[1]
    assert slow.attempts == 2 and slow.results["result"]["retry_count"] == 1
    audit = client.get_step_audit_history(done.task_uuid, slow.step_uuid)
    assert [(a.to_state, a.worker_uuid, a.attempt) for a in audit] == [
        ("in_progress", "doomed", 1),
        ("waiting_for_retry", "doomed", 1),
        ("pending", None, 1),
        ("in_progress", "survivor", 2),
        ("complete", "survivor", 2),
    ]
    assert "lease of worker 'doomed' ended" in (audit[1].error or "")
    client.close()
