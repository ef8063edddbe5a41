"""Shared fixtures: runtimes on throwaway storage, a real HTTP server on loopback."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

import agentcell

REPO = Path(__file__).resolve().parents[2]
WASM_BUILD = REPO / "target" / "wasm32-wasip2" / "release" / "agentcell_component.wasm"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTCELL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("AGENTCELL_STORAGE", str(tmp_path_factory.getbasetemp() / "default.db"))


@pytest.fixture
def rt() -> agentcell.Runtime:
    return agentcell.Runtime(":memory:")


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers `/ok` (200), `/slow` (after 2 s), `/teapot` (418); records every path."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Recorder.seen.append(self.path)
        if self.path.startswith("/slow"):
            time.sleep(2)
        status = 418 if self.path.startswith("/teapot") else 200
        body = b"hello from loopback"
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def http_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
