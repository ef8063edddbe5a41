"""Version, build and health of the core (seed 003), answered by the component."""

from __future__ import annotations

from dataclasses import dataclass

from ._default import runtime
from ._wasm import Runtime

__all__ = ["BuildInfo", "build_info", "get_rust_version", "get_version", "health_check", "version"]


@dataclass(frozen=True)
class BuildInfo:
    """How the component was built."""

    version: str
    rustc: str
    git_commit: str | None
    target: str
    profile: str
    features: tuple[str, ...]
    wit_package: str
    wasm_sha256: str


def get_version(rt: Runtime | None = None) -> str:
    """The package version, e.g. ``"0.1.0"``."""
    return str((rt or runtime()).exports.meta.version())


def version(rt: Runtime | None = None) -> str:
    """The package version (same as `get_version`)."""
    return get_version(rt)


def get_rust_version(rt: Runtime | None = None) -> str:
    """``"agentcell-component 0.1.0 (rustc 1.95.0 ...)"``: the core and the rustc that built it."""
    return str((rt or runtime()).exports.meta.rust_version())


def health_check(rt: Runtime | None = None) -> bool:
    """True when the core is loaded and its self-checks pass."""
    return bool((rt or runtime()).exports.meta.health_check())


def build_info(rt: Runtime | None = None) -> BuildInfo:
    """How the running component was built, with the SHA-256 of its `.wasm`."""
    rt = rt or runtime()
    raw = rt.exports.meta.describe_build()
    return BuildInfo(
        version=raw["version"],
        rustc=raw["rustc"],
        git_commit=raw["git_commit"],
        target=raw["target"],
        profile=raw["profile"],
        features=tuple(raw["features"]),
        wit_package=raw["wit_package"],
        wasm_sha256=rt.loaded.sha256,
    )
