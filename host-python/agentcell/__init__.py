"""agentcell: one Rust core for AI-agent infrastructure, run from Python through a
WebAssembly component.

    >>> import agentcell
    >>> agentcell.version()
    '0.1.0'
    >>> agentcell.health_check()
    True
"""

from __future__ import annotations

from typing import Any

from ._alloc import tune_allocator
from ._default import runtime, set_runtime
from ._settings import Settings, configure_ffi
from ._wasm import Runtime
from ._wasm.limits import Limits
from .attune import (
    Attuned,
    AttunedClient,
    AxisDefinition,
    InferenceEngine,
    Presets,
    PromptContext,
    RuleTranslator,
    Source,
    StateSnapshot,
    StateStore,
    SyncAttunedClient,
    Thresholds,
    Verbosity,
    get_all_axes,
    get_axis,
    get_axis_names,
    is_valid_axis_name,
)
from .diagnostics import Probe, counter_add, counter_get, probe_url, probe_url_async
from .errors import (
    AgentcellError,
    AuthenticationError,
    ComponentLoadError,
    ComponentTrap,
    HttpDeniedError,
    HttpError,
    HttpTimeoutError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    RateLimitedError,
    ResourceLimitError,
    ServerError,
    StorageError,
    TransportError,
)
from .http import HttpPolicy
from .meta import BuildInfo, build_info, get_rust_version, get_version, health_check, version
from .storage import SQLiteStorage

__all__ = [
    "CANONICAL_AXES",
    "AgentcellError",
    "Attuned",
    "AttunedClient",
    "AuthenticationError",
    "AxisDefinition",
    "BuildInfo",
    "ComponentLoadError",
    "ComponentTrap",
    "HttpDeniedError",
    "HttpError",
    "HttpPolicy",
    "HttpTimeoutError",
    "InferenceEngine",
    "InternalError",
    "InvalidArgumentError",
    "Limits",
    "NotFoundError",
    "Presets",
    "Probe",
    "PromptContext",
    "RateLimitedError",
    "ResourceLimitError",
    "RuleTranslator",
    "Runtime",
    "SQLiteStorage",
    "ServerError",
    "Settings",
    "Source",
    "StateSnapshot",
    "StateStore",
    "StorageError",
    "SyncAttunedClient",
    "Thresholds",
    "TransportError",
    "Verbosity",
    "__version__",
    "build_info",
    "configure_ffi",
    "counter_add",
    "counter_get",
    "get_all_axes",
    "get_axis",
    "get_axis_names",
    "get_rust_version",
    "get_version",
    "health_check",
    "is_valid_axis_name",
    "probe_url",
    "probe_url_async",
    "runtime",
    "set_runtime",
    "tune_allocator",
    "version",
]

__version__: str
CANONICAL_AXES: tuple[AxisDefinition, ...]


def __getattr__(name: str) -> Any:
    # `__version__` is answered by the component, loaded on first use rather than at import.
    if name == "__version__":
        value = get_version()
        globals()["__version__"] = value
        return value
    if name == "CANONICAL_AXES":
        return get_all_axes()
    raise AttributeError(f"module 'agentcell' has no attribute {name!r}")
