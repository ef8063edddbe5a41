"""Small functions that prove the host imports work: a counter kept in storage and an
HTTP probe sent through the allow-listed HTTP import."""

from __future__ import annotations

from dataclasses import dataclass

from ._default import runtime
from ._wasm import Runtime

__all__ = ["Probe", "counter_add", "counter_get", "probe_url"]


@dataclass(frozen=True)
class Probe:
    """The answer to `probe_url`."""

    url: str
    status: int
    healthy: bool
    elapsed_ms: int
    body_bytes: int


def counter_add(name: str, delta: int = 1, rt: Runtime | None = None) -> int:
    """Adds `delta` to the persistent counter `name`; returns the new value."""
    return int((rt or runtime()).call_ok("diagnostics", "counter-add", name, delta))


def counter_get(name: str, rt: Runtime | None = None) -> int:
    """The value of counter `name` (0 if never set)."""
    return int((rt or runtime()).call_ok("diagnostics", "counter-get", name))


def probe_url(url: str, timeout: float = 5.0, rt: Runtime | None = None) -> Probe:
    """``GET url`` through the runtime's HTTP policy. Raises `HttpDeniedError` (nothing
    sent) when the allow-list refuses it, `HttpTimeoutError`, or `HttpError`."""
    if timeout <= 0:
        from .errors import InvalidArgumentError

        raise InvalidArgumentError(f"timeout: must be positive, got {timeout}", field="timeout")
    raw = (rt or runtime()).call_ok("diagnostics", "probe-url", url, max(1, int(timeout * 1000)))
    return Probe(**raw)
