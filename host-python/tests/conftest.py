"""Shared fixtures: runtimes on throwaway storage, a real HTTP server on loopback, and
`agentcell serve` (the Rust host) as a separate process."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

import agentcell

REPO = Path(__file__).resolve().parents[2]
WASM_BUILD = REPO / "target" / "wasm32-wasip2" / "release" / "agentcell_component.wasm"
# The test build (world agentcell-test: the shipped exports plus bench and testing),
# which every runtime in the tests loads, child processes included.
TEST_WASM = REPO / "target" / "agentcell-test.wasm"
os.environ["AGENTCELL_WASM"] = str(TEST_WASM)
# Where the docs' plugin examples find the plugins `make plugins` builds.
os.environ["AGENTCELL_EXAMPLE_PLUGINS"] = str(REPO / "target" / "plugins" / "wasm32-wasip2" / "release")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTCELL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("AGENTCELL_STORAGE", str(tmp_path_factory.getbasetemp() / "default.db"))
    # Mesh key files: never the real ~/.x0x.
    monkeypatch.setenv("AGENTCELL_MESH_HOME", str(tmp_path_factory.getbasetemp() / "x0x"))


@pytest.fixture(autouse=True)
def _settings_restored() -> Iterator[None]:
    """`configure_ffi` changes process-wide settings: each test starts from the ones
    before it."""
    from agentcell import _settings

    saved = _settings.current()
    yield
    _settings._current = saved


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A real redis-server on a free loopback port, for the session: its URL. Skipped
    where redis-server is not installed, except in CI, which must have it."""
    import shutil
    import socket

    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            raise AssertionError("redis-server is required in CI")
        pytest.skip("redis-server is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL server (Debian's package) in a fresh data directory on a free
    loopback port, for the session: its URL. Run as the `postgres` user when we are
    root (initdb refuses root). Skipped where PostgreSQL is not installed, except in CI."""
    import shutil
    import socket

    bin_dir = _postgres_bin()
    if bin_dir is None:
        if os.environ.get("CI"):
            raise AssertionError("PostgreSQL is required in CI")
        pytest.skip("PostgreSQL is not installed")
    import tempfile

    # Not under pytest's temporary directory: that is root's alone (0700), and the
    # server runs as `postgres`.
    data = Path(tempfile.mkdtemp(prefix="agentcell-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run = lambda *a: subprocess.run([*as_user, *a], check=True, capture_output=True)  # noqa: E731
    run(str(bin_dir / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "agentcell")
    opts = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=on"
    run(str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-o", opts, "-l", str(data / "log"), "-w", "start")
    try:
        yield f"postgresql://agentcell@127.0.0.1:{port}/postgres"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "fast", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """The session's PostgreSQL server, emptied for this test."""
    import psycopg

    with psycopg.connect(postgres_server, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS agentcell_kv")
    return postgres_server


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session's redis-server, emptied for this test."""
    from agentcell.storage import RedisStorage

    store = RedisStorage(redis_server)
    store._db.flushdb()
    store.close()
    return redis_server


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


AGENTCELL = REPO / "target" / "release" / "agentcell"
KEY = "sk_test_123"


class Server:
    def __init__(self, data: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [str(AGENTCELL), "serve", "--addr", "127.0.0.1:0", "--data", str(data), "--api-key", KEY, *extra],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert "listening on http://" in line, line
        self.base = line.strip().rsplit(" ", 1)[-1]

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        key: str | None = KEY,
        raw: bytes | None = None,
        content_type: str | None = "application/json",
    ) -> tuple[int, Any, dict[str, str]]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if key is not None:
            req.add_header("Authorization", f"Bearer {key}")
        if content_type is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, text, headers = r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            status, text, headers = e.code, e.read(), dict(e.headers)
        return status, (json.loads(text) if text else None), headers

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path / "data", "--rate-limit", "0")
    yield s
    if s.proc.poll() is None:
        s.stop()
