"""Seed 003: version, rust version and health, answered by the component."""

from __future__ import annotations

import re

import tomllib

import agentcell
from agentcell._version import __version__ as packaged_version

from .conftest import REPO


def test_version_functions_agree_with_the_workspace_version() -> None:
    cargo = tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]["package"]["version"]
    assert agentcell.version() == cargo
    assert agentcell.get_version() == cargo
    assert agentcell.__version__ == cargo
    assert packaged_version == cargo


def test_rust_version_names_crate_and_rustc() -> None:
    rv = agentcell.get_rust_version()
    assert re.fullmatch(r"agentcell-component \d+\.\d+\.\d+ \(rustc \d+\.\d+\.\d+.*\)", rv), rv


def test_health_check_is_true() -> None:
    assert agentcell.health_check() is True


def test_build_info_describes_the_running_wasm(rt: agentcell.Runtime) -> None:
    info = agentcell.build_info(rt)
    assert info.target == "wasm32-wasip2"
    assert info.wit_package == "agentcell:core@0.1.0"
    assert info.rustc.startswith("rustc ")
    assert len(info.wasm_sha256) == 64


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        agentcell.no_such_thing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as e:
        assert "no_such_thing" in str(e)
    else:
        raise AssertionError("expected AttributeError")
