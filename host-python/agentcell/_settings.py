"""Process-wide settings of the Python host, set with `configure_ffi` (the seed's name
for configuring the layer between Python and the core). Each takes effect as its
docstring says; the defaults are what agentcell does without being configured."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Settings", "configure_ffi", "current"]

LOG = logging.getLogger("agentcell")
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class Settings:
    #: Partitions (each a worker thread with its own component instance) of a new
    #: `HTMCore` store that names none; an existing store keeps its own.
    thread_pool_size: int = 2
    #: The most linear memory one component instance may use, in MiB (None: no cap
    #: beyond wasm's 4 GiB). Past it the call raises `ResourceLimitError` and the
    #: instance is replaced; nothing persisted is lost.
    memory_limit_mb: int | None = 1024
    #: The longest one call into a component instance may run, in milliseconds (None:
    #: no deadline, the default, since a call may wait on the network through a host
    #: import). Past it the call raises `ResourceLimitError`, as for memory.
    call_timeout_ms: int | None = None
    #: Whether the `agentcell` logger writes (instances made and replaced after a
    #: trap, stores opened). Until set, the application's logging configuration decides.
    enable_logging: bool = False
    log_level: str = "WARNING"
    #: The most disk the precompiled-artifact cache may hold, in MiB (0: no cache;
    #: every process compiles the component).
    cache_size_mb: int = 256


_current = Settings()
_lock = threading.Lock()


def current() -> Settings:
    return _current


def _int(key: str, value: Any, lowest: int, highest: int) -> int:
    from .errors import InvalidArgumentError

    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= highest:
        raise InvalidArgumentError(
            f"{key}: must be an integer in {lowest}..={highest}, got {value!r}", field=key
        )
    return value


def configure_ffi(options: Mapping[str, Any]) -> Settings:
    """Sets the given keys and returns the settings now in force:

    * ``thread_pool_size`` (1..=16): partitions of a new `HTMCore` store that names none,
      each a worker thread with its own component instance;
    * ``memory_limit_mb`` (16..=4096, or None; default 1024): the cap on each component
      instance's memory, for runtimes created from now on and the shared default runtime;
    * ``call_timeout_ms`` (1..=86_400_000, or None; default None): the deadline of each
      call into a component instance, for the same runtimes;
    * ``enable_logging`` (bool) and ``log_level`` (``"DEBUG"`` .. ``"CRITICAL"``): the
      ``agentcell`` logger (a stream handler is added when it has none);
    * ``cache_size_mb`` (0..=65536): the disk the precompiled-artifact cache may hold
      (0 turns it off).

    An unknown key, or a value of the wrong type or out of range, is a
    `ValidationError` (a `ValueError`) naming it; nothing is changed then.
    """
    from .errors import InvalidArgumentError

    global _current
    if not isinstance(options, Mapping):
        raise InvalidArgumentError(
            f"options: must be a mapping, got {type(options).__name__}", field="options"
        )
    known = set(Settings.__dataclass_fields__)
    changes: dict[str, Any] = {}
    for key, value in options.items():
        if key not in known:
            raise InvalidArgumentError(
                f"{key!r}: not a setting; the settings are {sorted(known)}", field=str(key)
            )
        if key == "thread_pool_size":
            changes[key] = _int(key, value, 1, 16)
        elif key == "memory_limit_mb":
            changes[key] = None if value is None else _int(key, value, 16, 4096)
        elif key == "call_timeout_ms":
            changes[key] = None if value is None else _int(key, value, 1, 86_400_000)
        elif key == "cache_size_mb":
            changes[key] = _int(key, value, 0, 65536)
        elif key == "enable_logging":
            if not isinstance(value, bool):
                raise InvalidArgumentError(f"{key}: must be True or False, got {value!r}", field=key)
            changes[key] = value
        else:  # log_level
            level = str(value).upper() if isinstance(value, str) else None
            if level not in _LEVELS:
                raise InvalidArgumentError(f"{key}: must be one of {list(_LEVELS)}, got {value!r}", field=key)
            changes[key] = level
    with _lock:
        _current = Settings(**{**_current.__dict__, **changes})
        if {"enable_logging", "log_level"} & changes.keys():
            _apply_logging(_current)
    if {"memory_limit_mb", "call_timeout_ms"} & changes.keys():
        from ._default import _default
        from ._wasm.limits import Limits

        if _default is not None:
            _default.set_limits(Limits(_current.memory_limit_mb, _current.call_timeout_ms))
    return _current


def _apply_logging(s: Settings) -> None:
    LOG.disabled = not s.enable_logging
    LOG.setLevel(s.log_level)
    if s.enable_logging and not any(not isinstance(h, logging.NullHandler) for h in LOG.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s agentcell %(levelname)s %(message)s"))
        LOG.addHandler(handler)


# A library's logger writes nothing until the application (or `configure_ffi`) says so.
LOG.addHandler(logging.NullHandler())
