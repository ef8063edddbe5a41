"""tasker's orchestration REST API in `agentcell serve`: a template registered and a
task created over HTTP are run by a Python worker process sharing the server's storage
(a real Redis, a real PostgreSQL), and followed over HTTP to the end."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from agentcell.worker.client import FINAL_STATES

from .conftest import Server
from .test_worker_processes import TEMPLATES, start_worker


@pytest.fixture(params=["redis", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    url = str(request.getfixturevalue(f"{request.param}_url"))
    srv = Server(tmp_path / "served", f"--{request.param}", url)
    try:
        yield srv, url
    finally:
        srv.stop()


def test_a_task_made_over_http_is_run_by_a_python_worker(served: Any, tmp_path: Path) -> None:
    srv, url = served
    template = (TEMPLATES / "diamond.yaml").read_text()
    status, made, _ = srv.request("POST", "/v1/templates", raw=template.encode(), content_type="text/yaml")
    assert status == 201 and made["name"] == "diamond_workflow", made
    assert srv.request("GET", "/v1/templates")[1]
    status, task, _ = srv.request(
        "POST",
        "/v1/tasks",
        {"name": "diamond_workflow", "namespace": "diamond_workflow", "context": {"even_number": 6}},
    )
    assert status == 201 and task["status"] not in FINAL_STATES, task
    uuid = task["task_uuid"]
    worker = start_worker(url, tmp_path, "rest-worker")
    try:
        deadline = time.monotonic() + 60
        while True:
            status, task, _ = srv.request("GET", f"/v1/tasks/{uuid}")
            if task["status"] in FINAL_STATES:
                break
            assert time.monotonic() < deadline, task
            time.sleep(0.05)
        assert task["status"] == "complete", json.dumps(task)
        steps = srv.request("GET", f"/v1/tasks/{uuid}/workflow_steps")[1]
        assert {s["name"] for s in steps} >= {"diamond_start_py", "diamond_end_py"}
        end = next(s for s in steps if s["name"] == "diamond_end_py")
        one = srv.request("GET", f"/v1/tasks/{uuid}/workflow_steps/{end['step_uuid']}")[1]
        assert one["step_uuid"] == end["step_uuid"] and one["current_state"] == "complete"
        audit = srv.request("GET", f"/v1/tasks/{uuid}/workflow_steps/{end['step_uuid']}/audit")[1]
        assert audit and audit[-1]["to_state"] == "complete"
        page = srv.request("GET", "/v1/tasks?limit=10&namespace=diamond_workflow")[1]
        assert page["pagination"]["total_count"] == 1 and page["tasks"][0]["task_uuid"] == uuid
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(10)
    # Errors are typed and name the problem.
    status, err, _ = srv.request("POST", "/v1/tasks", {"name": "nope"})
    assert status == 404 and err["error"]["code"] == "not-found"
    assert srv.request("GET", "/v1/tasks/not-a-uuid")[0] == 400
    assert srv.request("GET", "/v1/tasks?limit=x")[0] == 400
    assert srv.request("GET", "/v1/tasks", key=None)[0] == 401
    status, cancelled, _ = srv.request("DELETE", f"/v1/tasks/{uuid}")
    assert status in (200, 400), cancelled
