"""Limits on a component instance (issue 19): a call deadline stops a loop, a memory cap
stops a memory bomb, each with `ResourceLimitError`, and the runtime stays usable with
its data; and the component reaches nothing of the machine it was not granted."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

import agentcell
from agentcell import ComponentTrap, Limits, ResourceLimitError, configure_ffi


def test_the_default_limits_cap_memory_at_1_gib_and_set_no_deadline() -> None:
    rt = agentcell.Runtime(":memory:")
    assert rt.limits == Limits(memory_mb=1024, call_timeout_ms=None)


def test_a_deadline_stops_an_endless_loop_and_the_runtime_goes_on(tmp_path: Path) -> None:
    rt = agentcell.Runtime(tmp_path / "data.db", limits=Limits(call_timeout_ms=200))
    rt.exports.diagnostics.counter_add("kept", 5)
    started = time.monotonic()
    with pytest.raises(ResourceLimitError, match=r"testing\.spin ran past its time limit of 200 ms") as info:
        rt.exports.testing.spin()
    elapsed = time.monotonic() - started
    assert info.value.limit == "time"
    assert isinstance(info.value, ComponentTrap)  # code catching traps catches this too
    assert 0.2 <= elapsed < 2.0
    assert rt.exports.diagnostics.counter_get("kept") == 5  # nothing persisted lost
    assert rt.instantiations == 2
    with pytest.raises(ResourceLimitError):  # the new instance has the same deadline
        rt.exports.testing.spin()


def test_a_deadline_does_not_cut_calls_that_finish_in_time() -> None:
    rt = agentcell.Runtime(":memory:", limits=Limits(call_timeout_ms=1000))
    for _ in range(200):
        assert rt.exports.meta.health_check() is True
    assert rt.instantiations == 1


def test_a_memory_cap_stops_a_memory_bomb_and_the_runtime_goes_on(tmp_path: Path) -> None:
    rt = agentcell.Runtime(tmp_path / "data.db", limits=Limits(memory_mb=64))
    rt.exports.diagnostics.counter_add("kept", 7)
    with pytest.raises(
        ResourceLimitError, match=r"testing\.hog needed more memory than its cap of 64 MiB"
    ) as info:
        rt.exports.testing.hog(4)
    assert info.value.limit == "memory"
    assert rt.exports.diagnostics.counter_get("kept") == 7
    assert rt.exports.meta.health_check() is True


def test_without_a_cap_a_memory_bomb_still_ends_at_wasms_own_4_gib() -> None:
    rt = agentcell.Runtime(":memory:", limits=Limits(memory_mb=None))
    with pytest.raises(ResourceLimitError, match="4 GiB"):
        rt.exports.testing.hog(256)
    assert rt.exports.meta.health_check() is True


def test_a_trap_that_is_no_limit_stays_a_plain_component_trap() -> None:
    rt = agentcell.Runtime(":memory:", limits=Limits(memory_mb=64, call_timeout_ms=1000))
    with pytest.raises(ComponentTrap) as info:
        rt.exports.testing.trap("not a limit")
    assert not isinstance(info.value, ResourceLimitError)


def test_limits_change_on_a_live_runtime() -> None:
    rt = agentcell.Runtime(":memory:")
    rt.set_limits(Limits(call_timeout_ms=50))
    with pytest.raises(ResourceLimitError):
        rt.exports.testing.spin()
    rt.set_limits(Limits())
    assert rt.limits.call_timeout_ms is None


def test_configure_ffi_sets_the_deadline_of_new_runtimes() -> None:
    configure_ffi({"call_timeout_ms": 100})
    try:
        rt = agentcell.Runtime(":memory:")
        assert rt.limits.call_timeout_ms == 100
        with pytest.raises(ResourceLimitError):
            rt.exports.testing.spin()
    finally:
        configure_ffi({"call_timeout_ms": None})
    with pytest.raises(agentcell.InvalidArgumentError, match="call_timeout_ms"):
        configure_ffi({"call_timeout_ms": 0})


def test_one_runtime_spinning_does_not_stop_another() -> None:
    slow = agentcell.Runtime(":memory:", limits=Limits(call_timeout_ms=500))
    other = agentcell.Runtime(":memory:")
    errors: list[BaseException] = []

    def spin() -> None:
        try:
            slow.exports.testing.spin()
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=spin)
    thread.start()
    for _ in range(50):
        assert other.exports.meta.health_check() is True
    thread.join(5)
    assert len(errors) == 1 and isinstance(errors[0], ResourceLimitError)


def test_the_component_reaches_no_file_no_environment_and_no_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTCELL_SECRET", "must-not-be-seen")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        listener.settimeout(0.2)
        report = agentcell.Runtime(":memory:").exports.testing.ambient(port)
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody connected
    assert report["read_file"].startswith("denied:"), report
    assert report["write_file"].startswith("denied:"), report
    assert report["environment"] == ""
    assert report["tcp_connect"].startswith("denied:"), report
