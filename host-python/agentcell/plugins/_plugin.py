"""`Plugin`: one plugin component, loaded with its limits and grants, called with JSON."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime.component import Linker

from .._twins import async_twin
from .._wasm.host_imports import _define
from .._wasm.limits import Limits
from .._wasm.runtime import Runtime
from .._wasm.values import Err
from ..errors import AgentcellError, ComponentLoadError, InvalidArgumentError
from ..http import HttpPolicy
from ..storage import StorageBackend
from ._host import host_imports

__all__ = ["PLUGIN_LIMITS", "Grants", "Plugin", "PluginError", "PluginInfo"]

WIT_PACKAGE = "agentcell:plugin"
WIT_VERSION = "0.1.0"
#: A plugin's limits unless its configuration says otherwise: far below the core's.
PLUGIN_LIMITS = Limits(memory_mb=128, call_timeout_ms=5000)
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


class PluginError(AgentcellError):
    """The plugin reported a failure. `kind` is ``"invalid-input"`` (retrying cannot
    help), ``"permanent"`` or ``"retryable"``; `plugin` names it."""

    code = "plugin"

    def __init__(self, message: str, *, kind: str, plugin: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.plugin = plugin

    @property
    def retryable(self) -> bool:
        """True when the plugin said retrying may help."""
        return self.kind == "retryable"


@dataclass(frozen=True)
class PluginInfo:
    """What a plugin says it is (`describe`)."""

    name: str
    version: str
    description: str


@dataclass(frozen=True)
class Grants:
    """What a plugin may use beyond computing. `storage`: the backend holding its own
    key-value namespace (``plugin/<name>``; None: no key-value). `http`: the allow-list
    its requests go through (None: no HTTP). `log`: whether its log lines are written.
    A plugin never gets a filesystem, sockets or the environment."""

    storage: StorageBackend | None = None
    http: HttpPolicy | None = None
    log: bool = True


class _PluginRuntime(Runtime):
    """A `Runtime` whose imports are the plugin world's `host` (and a WASI that grants
    nothing) instead of the core's."""

    def __init__(self, path: Path, name: str, grants: Grants, limits: Limits) -> None:
        self._plugin_name = name
        self._grants = grants
        super().__init__(grants.storage, grants.http, wasm=path, limits=limits)

    def _interface_name(self, interface: str) -> str:
        return f"{WIT_PACKAGE}/{interface}@{WIT_VERSION}"

    def _make_linker(self) -> Linker:
        linker = Linker(self.loaded.engine)
        linker.add_wasip2()
        g = self._grants
        handlers = host_imports(
            self._plugin_name, (lambda: self.storage) if g.storage else None, g.http, g.log
        )
        with linker.root() as root, root.add_instance(self._interface_name("host")) as inst:
            for fname, handler in handlers.items():
                _define(inst, fname, handler)
        return linker


class Plugin:
    """A plugin component loaded from `path`, run under `limits` (default
    `PLUGIN_LIMITS`: 128 MiB, 5 s a call) with `grants` (default: a log, nothing else).

    `call(value)` sends `value` as JSON and returns the plugin's JSON answer decoded.
    A failure the plugin reports raises `PluginError`; a call past a limit raises
    `ResourceLimitError`; a trap raises `ComponentTrap`. After either of the last two
    the instance is replaced, so the next call works.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        grants: Grants | None = None,
        limits: Limits | None = None,
    ) -> None:
        if name is not None and not _NAME.fullmatch(name):
            raise InvalidArgumentError(
                f"name: {name!r} is not a plugin name ([a-z0-9][a-z0-9-]*, at most 64)", field="name"
            )
        self.path = Path(path)
        self.grants = grants or Grants()
        self.limits = limits or PLUGIN_LIMITS
        # The name decides the key-value namespace, so it is the host's, never the
        # plugin's: the one given, else the file's stem.
        self.name = name or re.sub(r"[^a-z0-9-]", "-", self.path.stem.lower()).strip("-") or "plugin"
        try:
            self._rt = _PluginRuntime(self.path, self.name, self.grants, self.limits)
            info = self._rt.call("plugin", "describe")
        except (wasmtime.WasmtimeError, AttributeError) as e:
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ComponentLoadError(
                f"{self.path} is not an agentcell plugin (world {WIT_PACKAGE}/agentcell-plugin): {first}",
                field="path",
            ) from e
        self.info = PluginInfo(info["name"], info["version"], info["description"])

    @property
    def instantiations(self) -> int:
        """How many instances this plugin has had (1, plus one after each trap or limit)."""
        return self._rt.instantiations

    def call_json(self, text: str) -> str:
        """`call` on JSON text: the plugin's answer as JSON text."""
        if not isinstance(text, str):
            raise TypeError(f"input: must be JSON text (str), got {type(text).__name__}")
        out = self._rt.call("plugin", "call", text)
        if isinstance(out, Err):
            raise PluginError(
                f"plugin {self.name}: {out.value['message']}", kind=out.value["kind"], plugin=self.name
            )
        result: str = out.value
        return result

    def call(self, value: Any) -> Any:
        """Sends `value` (anything `json.dumps` takes) and returns the answer decoded."""
        try:
            text = json.dumps(value)
        except (TypeError, ValueError) as e:
            raise InvalidArgumentError(f"input: cannot be sent as JSON: {e}", field="input") from e
        return json.loads(self.call_json(text))

    call_async = async_twin(call)

    def close(self) -> None:
        """Drops the instance; later calls raise `AgentcellError`."""
        self._rt.close()

    def __enter__(self) -> Plugin:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Plugin({self.name!r}, {str(self.path)!r}, version={self.info.version!r})"
