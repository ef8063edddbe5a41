"""The storage import's backends: SQLite (persistence, durability under SIGKILL) and,
with the same tests of the contract, a real Redis server and a real PostgreSQL server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import agentcell
from agentcell.errors import StorageError
from agentcell.storage import PostgresStorage, RedisStorage, SQLiteStorage, StorageBackend, StorageFailure


@pytest.fixture(params=["sqlite", "redis", "postgres"])
def backend(request: pytest.FixtureRequest) -> StorageBackend:
    """Each backend in turn: SQLite in memory, the test's own Redis database, and a
    fresh table on a real PostgreSQL server."""
    if request.param == "sqlite":
        return SQLiteStorage()
    if request.param == "postgres":
        return PostgresStorage(request.getfixturevalue("postgres_url"))
    return RedisStorage(request.getfixturevalue("redis_url"))


def test_counter_survives_a_restart_of_the_host(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    first = agentcell.Runtime(db)
    assert agentcell.counter_add("restarts", 3, first) == 3
    first.storage.close()
    second = agentcell.Runtime(db)
    assert agentcell.counter_add("restarts", 1, second) == 4


def test_unwritable_storage_path_names_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    target = blocker / "sub" / "state.db"
    with pytest.raises(agentcell.StorageError, match=re.escape(str(target))):
        agentcell.Runtime(target)


def test_storage_error_reaches_the_caller_as_a_typed_error(tmp_path: Path) -> None:
    rt = agentcell.Runtime(tmp_path / "s.db")
    rt.storage.close()  # every further call fails inside the backend
    with pytest.raises(agentcell.StorageError, match="storage unavailable"):
        agentcell.counter_add("x", 1, rt)
    assert agentcell.health_check(rt)  # no trap, same instance
    assert rt.instantiations == 1


def test_list_keys_pages_in_byte_order(backend: StorageBackend) -> None:
    s = backend
    s.set_many("ns", [(f"k{i:02d}", str(i)) for i in range(25)] + [("other", "x")])
    keys, cursor = s.list_keys("ns", "k", None, 10)
    assert keys == [f"k{i:02d}" for i in range(10)] and cursor == "k09"
    keys, cursor = s.list_keys("ns", "k", cursor, 10)
    assert keys[0] == "k10"
    keys, cursor = s.list_keys("ns", "k", cursor, 10)
    assert len(keys) == 5 and cursor is None
    assert s.list_keys("ns", "", None, 1000)[0][-1] == "other"


def test_a_prefix_lists_its_keys_only_at_the_edges_of_code_points(backend: StorageBackend) -> None:
    s = backend
    keys = ["du", "due", "due/", "due/\U0010ffff", "due/\ud7ffz", "due0", "duf", "\U0010ffff" * 3]
    s.set_many("ns", [(k, "v") for k in keys])
    assert s.list_keys("ns", "due/", None, 100)[0] == ["due/", "due/\ud7ffz", "due/\U0010ffff"]
    assert s.list_keys("ns", "due/\U0010ffff", None, 100)[0] == ["due/\U0010ffff"]
    assert s.list_keys("ns", "", None, 100)[0][-1] == "\U0010ffff" * 3


def test_set_many_is_all_or_nothing(backend: StorageBackend) -> None:
    s = backend
    with pytest.raises(StorageFailure, match="key must not be empty"):
        s.set_many("ns", [("a", "1"), ("", "2")])
    assert s.get("ns", "a") is None
    s.set_many("ns", [("a", "1"), ("b", "2")])
    assert s.get_many("ns", ["a", "b", "c"]) == ["1", "2", None]
    assert s.delete_many("ns", ["a", "c"]) == 1
    assert s.exists("ns", "b") and not s.exists("ns", "a")


def test_key_rules(backend: StorageBackend) -> None:
    s = backend
    with pytest.raises(StorageFailure, match="at most 1024 bytes"):
        s.set("ns", "k" * 1025, "v")
    with pytest.raises(StorageFailure, match="limit"):
        s.list_keys("ns", "", None, 0)


CHILD = """
import sys, agentcell
rt = agentcell.Runtime(sys.argv[1])
while True:
    value = agentcell.counter_add("acked", 1, rt)
    print(value, flush=True)
"""


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "kill.db"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(agentcell.__file__).parents[1],
        env={**os.environ, "AGENTCELL_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert child.stdout is not None
    last_acked = 0
    deadline = time.monotonic() + 30
    while last_acked < 50 and time.monotonic() < deadline:
        last_acked = int(child.stdout.readline())
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert last_acked >= 50
    after = agentcell.counter_get("acked", agentcell.Runtime(db))
    assert after >= last_acked  # every printed (acknowledged) value is on disk


def test_values_cross_as_utf8_bytes_and_are_stored_as_text(tmp_path: Path) -> None:
    import sqlite3

    s = SQLiteStorage(tmp_path / "kv.db")
    s.set_many("ns", [("a", "héllo".encode()), ("b", "plain str")])
    assert s.get("ns", "a") == "héllo"
    assert s.get_utf8("ns", "a") == "héllo".encode()
    assert s.get_utf8("ns", "b") == b"plain str"
    assert s.get_utf8("ns", "missing") is None
    s.close()
    db = sqlite3.connect(tmp_path / "kv.db")
    # TEXT either way, so any SQLite reader (the Rust host's included) sees strings.
    assert {t for (t,) in db.execute("SELECT typeof(value) FROM kv")} == {"text"}


def test_page_size_and_journal_apply_to_a_new_file(tmp_path: Path) -> None:
    import sqlite3

    made = SQLiteStorage(tmp_path / "big.db", page_size=65536, journal="truncate")
    made.set("ns", "k", "v")
    assert made.journal == "truncate"
    assert SQLiteStorage(tmp_path / "default.db").journal == "wal"
    big, default = sqlite3.connect(tmp_path / "big.db"), sqlite3.connect(tmp_path / "default.db")
    assert big.execute("PRAGMA page_size").fetchone() == (65536,)
    assert default.execute("PRAGMA page_size").fetchone() == (4096,)
    assert default.execute("PRAGMA journal_mode").fetchone() == ("wal",)  # WAL is kept in the file
    # A rowid table (large values read 2-10x faster than from a WITHOUT ROWID table).
    sql = big.execute("SELECT sql FROM sqlite_master WHERE name='kv'").fetchone()[0]
    assert "WITHOUT ROWID" not in sql


@pytest.mark.parametrize(
    ("option", "value"), [("page_size", 1000), ("page_size", 131072), ("journal", "delete")]
)
def test_bad_storage_options_are_named(tmp_path: Path, option: str, value: object) -> None:
    with pytest.raises(StorageError) as e:
        SQLiteStorage(tmp_path / "x.db", **{option: value})  # type: ignore[arg-type]
    assert e.value.field == option


def test_compare_and_set_stores_only_over_the_expected_value(backend: StorageBackend) -> None:
    s = backend
    assert s.compare_and_set("ns", "k", None, "a")
    assert not s.compare_and_set("ns", "k", None, "b")
    assert not s.compare_and_set("ns", "k", "x", "b")
    assert s.compare_and_set("ns", "k", "a", "b")
    assert s.get("ns", "k") == "b"
    s.delete("ns", "k")
    assert not s.compare_and_set("ns", "k", "b", "c")
    with pytest.raises(StorageFailure):
        s.compare_and_set("ns", "", None, "c")


def test_concurrent_adds_from_several_instances_and_connections_are_all_counted(tmp_path: Path) -> None:
    """Four component instances, each over its own connection to one file, adding to one
    counter from four threads: every add is counted (read, add, compare-and-set)."""
    import threading

    db = tmp_path / "shared.db"
    runtimes = [agentcell.Runtime(SQLiteStorage(db)) for _ in range(4)]
    errors: list[BaseException] = []

    def add(rt: agentcell.Runtime) -> None:
        try:
            for _ in range(50):
                agentcell.counter_add("hits", 1, rt)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=add, args=(rt,)) for rt in runtimes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert agentcell.counter_get("hits", agentcell.Runtime(db)) == 200


def test_commit_applies_every_write_only_when_every_guard_holds(backend: StorageBackend) -> None:
    s = backend
    s.set_many("ns", [("rec", "v1"), ("idx/old", "")])
    writes: list[tuple[str, str | bytes | None]] = [("rec", "v2"), ("idx/old", None), ("idx/new", "")]
    assert not s.commit("ns", [("rec", "v0")], writes)
    assert not s.commit("ns", [("rec", "v1"), ("absent", "x")], writes)
    assert s.get_many("ns", ["rec", "idx/old"]) == ["v1", ""]
    assert s.commit("ns", [("rec", "v1"), ("absent", None)], writes)
    assert s.get_many("ns", ["rec", "idx/old", "idx/new"]) == ["v2", None, ""]
    assert s.list_keys("ns", "idx/", None, 10) == (["idx/new"], None)
    assert not s.commit("ns", [("absent", "")], [("z", "1")]), "an empty value is a value"
    with pytest.raises(StorageFailure):
        s.commit("ns", [("", None)], [])


def test_several_runtimes_count_through_one_redis_server(redis_url: str) -> None:
    """Four instances, each with its own connection, adding from four threads: none lost."""
    import threading

    runtimes = [agentcell.Runtime(RedisStorage(redis_url)) for _ in range(4)]
    threads = [
        threading.Thread(target=lambda rt=rt: [agentcell.counter_add("hits", 1, rt) for _ in range(25)])
        for rt in runtimes
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert agentcell.counter_get("hits", runtimes[0]) == 100


@pytest.mark.parametrize("server", ["redis", "postgres"])
def test_python_and_the_rust_host_share_one_server_layout(
    server: str, request: pytest.FixtureRequest
) -> None:
    """What Python writes through Redis or PostgreSQL, the Rust host's backend reads (the
    same keys, the same table)."""
    from .conftest import REPO

    url = str(request.getfixturevalue(f"{server}_url"))
    rt = agentcell.Runtime(RedisStorage(url) if server == "redis" else PostgresStorage(url))
    agentcell.counter_add("shared", 41, rt)
    binary = REPO / "target" / "release" / "agentcell"
    out = subprocess.run(
        [str(binary), "counter", "shared", "--add", "1", f"--{server}", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "42" in out.stdout
    assert agentcell.counter_get("shared", rt) == 42
