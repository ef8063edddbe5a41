"""Small functions that prove the host imports work: a counter kept in storage and an
HTTP probe sent through the allow-listed HTTP import."""

from __future__ import annotations

from dataclasses import dataclass

from ._default import runtime
from ._twins import async_twin
from ._wasm import Runtime
from .errors import InvalidArgumentError

__all__ = ["Probe", "counter_add", "counter_get", "probe_url", "probe_url_async"]


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
    return int((rt or runtime()).exports.diagnostics.counter_add(name, delta))


def counter_get(name: str, rt: Runtime | None = None) -> int:
    """The value of counter `name` (0 if never set)."""
    return int((rt or runtime()).exports.diagnostics.counter_get(name))


def _timeout_ms(timeout: float) -> int:
    if timeout <= 0:
        raise InvalidArgumentError(f"timeout: must be positive, got {timeout}", field="timeout")
    return max(1, int(timeout * 1000))


def probe_url(url: str, timeout: float = 5.0, rt: Runtime | None = None) -> Probe:
    """``GET url`` through the runtime's HTTP policy. Raises `HttpDeniedError` (nothing
    sent) when the allow-list refuses it, `HttpTimeoutError`, or `HttpError`."""
    raw = (rt or runtime()).exports.diagnostics.probe_url(url, _timeout_ms(timeout))
    return Probe(**raw)


probe_url_async = async_twin(probe_url)
