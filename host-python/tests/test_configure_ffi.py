"""`configure_ffi` (seed 004): each setting does what it says; a bad one changes nothing."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import agentcell
from agentcell import _settings
from agentcell.memory import HTMCore, ValidationError, configure_ffi


@pytest.fixture(autouse=True)
def _restore_settings() -> Iterator[None]:
    """Each test's settings, logger handlers and level are undone after it."""
    log = logging.getLogger("agentcell")
    before, handlers, level = _settings.current(), list(log.handlers), log.level
    yield
    _settings._current = before
    log.handlers[:] = handlers
    log.setLevel(level)
    log.disabled = False


def test_unknown_keys_and_bad_values_are_refused_naming_them() -> None:
    before = _settings.current()
    for options, match in (
        ({"thread_pool_size": 4, "threads": 2}, r"'threads': not a setting"),
        ({"thread_pool_size": 0}, r"thread_pool_size: must be an integer in 1..=16"),
        ({"memory_limit_mb": "2 GB"}, r"memory_limit_mb: must be an integer"),
        ({"enable_logging": "yes"}, r"enable_logging: must be True or False"),
        ({"log_level": "LOUD"}, r"log_level: must be one of"),
        ({"cache_size_mb": -1}, r"cache_size_mb: must be an integer in 0..=65536"),
    ):
        with pytest.raises(ValidationError, match=match):
            configure_ffi(options)
        assert _settings.current() == before  # nothing changed, not even the good keys
    with pytest.raises(ValueError, match="not a setting"):
        agentcell.configure_ffi({"nope": 1})


def test_the_seeds_block_and_thread_pool_size_sets_the_partitions(tmp_path: Path) -> None:
    settings = configure_ffi(
        {
            "thread_pool_size": 8,
            "memory_limit_mb": 2048,
            "enable_logging": True,
            "log_level": "INFO",
            "cache_size_mb": 512,
        }
    )
    assert (settings.thread_pool_size, settings.memory_limit_mb, settings.log_level) == (8, 2048, "INFO")
    configure_ffi({"thread_pool_size": 3})
    with HTMCore(tmp_path / "three", dimension=3) as htm:
        htm.store_embedding("a", np.ones(3))
        assert htm.get_memory_stats()["partitions"] == 3
    configure_ffi({"thread_pool_size": 1})
    with HTMCore(tmp_path / "three", dimension=3) as again:  # an existing store keeps its own
        assert again.get_memory_stats()["partitions"] == 3


def test_memory_limit_caps_an_instance_and_the_runtime_stays_usable() -> None:
    configure_ffi({"memory_limit_mb": 32})
    rt = agentcell.Runtime(":memory:")
    assert len(rt.exports.bench.blob_out(1 << 20, 0)) == 2 << 20
    with pytest.raises(agentcell.ComponentTrap):
        rt.exports.bench.blob_out(64 << 20, 0)  # 64 MiB out, 128 MiB of hex: past the cap
    assert rt.exports.meta.health_check() is True  # a new instance, with the same cap
    with pytest.raises(agentcell.ComponentTrap):
        rt.exports.bench.blob_out(64 << 20, 0)
    configure_ffi({"memory_limit_mb": None})
    assert len(agentcell.Runtime(":memory:").exports.bench.blob_out(8 << 20, 0)) == 16 << 20


def test_logging_goes_through_the_agentcell_logger(caplog: pytest.LogCaptureFixture) -> None:
    configure_ffi({"enable_logging": True, "log_level": "DEBUG"})
    with caplog.at_level(logging.DEBUG, logger="agentcell"):
        agentcell.Runtime(":memory:")
    assert any("component instance" in r.getMessage() for r in caplog.records if r.name == "agentcell")
    caplog.clear()
    configure_ffi({"enable_logging": False})
    with caplog.at_level(logging.DEBUG, logger="agentcell"):
        agentcell.Runtime(":memory:")
    assert not [r for r in caplog.records if r.name == "agentcell"]


def test_a_zero_cache_compiles_every_time_and_writes_nothing(tmp_path: Path) -> None:
    code = (
        "import agentcell; agentcell.configure_ffi({'cache_size_mb': 0}); "
        "rt = agentcell.Runtime(':memory:'); print(rt.loaded.from_cache)"
    )
    env = {**os.environ, "AGENTCELL_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert not list((tmp_path / "cache").glob("*.cwasm")) if (tmp_path / "cache").exists() else True
    cached = subprocess.run(
        [sys.executable, "-c", "import agentcell; print(agentcell.Runtime(':memory:').loaded.from_cache)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert cached.stdout.strip() == "False"  # nothing was cached by the first
    assert len(list((tmp_path / "cache").glob("*.cwasm"))) == 1  # the default cache writes one
