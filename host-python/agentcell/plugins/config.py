"""Plugins from a configuration file, the same JSON every host reads:

```json
{"plugins": {"text-stats": {"path": "text_stats.wasm", "memory_mb": 64,
                            "call_timeout_ms": 2000, "kv": true,
                            "http_allow": ["api.example.com"], "log": true}}}
```

`path` is relative to the file. Absent keys take `PLUGIN_LIMITS` and no grant (no
key-value, no HTTP; the log is on). An unknown key or a wrong value is a
`ValidationError` naming it; nothing is loaded then."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .._wasm.limits import Limits
from ..errors import InvalidArgumentError, NotFoundError
from ..http import HttpPolicy
from ..storage import SQLiteStorage, StorageBackend
from ._plugin import _NAME, PLUGIN_LIMITS, Grants, Plugin

__all__ = ["PluginSet"]

_KEYS = {"path", "memory_mb", "call_timeout_ms", "kv", "http_allow", "log"}


def _bad(where: str, rule: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"plugin config {where}: {rule}", field=where)


def _limit(where: str, value: Any, default: int | None, highest: int) -> int | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= highest:
        raise _bad(where, f"must be an integer in 1..={highest}, got {value!r}")
    return value


class PluginSet(Mapping[str, Plugin]):
    """Plugins by name, each loaded with the limits and grants its entry gives. A
    `kv` grant puts the plugin's namespace in `storage` (default: the default data
    file)."""

    def __init__(self, plugins: Mapping[str, Plugin]) -> None:
        self._plugins = dict(plugins)

    @classmethod
    def from_config(
        cls, config: str | Path | Mapping[str, Any], *, storage: StorageBackend | None = None
    ) -> PluginSet:
        """Loads every plugin `config` (a file, or the parsed JSON) names."""
        base = Path.cwd()
        if isinstance(config, (str, Path)):
            path = Path(config)
            try:
                config = json.loads(path.read_text())
            except OSError as e:
                raise _bad("file", f"cannot read {path}: {e.strerror or e}") from e
            except ValueError as e:
                raise _bad("file", f"{path} is not JSON: {e}") from e
            base = path.resolve().parent
        if not isinstance(config, Mapping) or not isinstance(config.get("plugins"), Mapping):
            raise _bad("plugins", 'the config must be an object with an object "plugins"')
        entries: dict[str, tuple[Path, Grants, Limits]] = {}
        for name, entry in config["plugins"].items():
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                raise _bad(f"plugins.{name}", "a plugin name is [a-z0-9][a-z0-9-]*, at most 64")
            if not isinstance(entry, Mapping):
                raise _bad(f"plugins.{name}", "must be an object")
            unknown = set(entry) - _KEYS
            if unknown:
                raise _bad(f"plugins.{name}.{sorted(unknown)[0]}", f"not a key; the keys are {sorted(_KEYS)}")
            if not isinstance(entry.get("path"), str):
                raise _bad(f"plugins.{name}.path", "must be the plugin file's path")
            limits = Limits(
                _limit(f"plugins.{name}.memory_mb", entry.get("memory_mb"), PLUGIN_LIMITS.memory_mb, 4096),
                _limit(
                    f"plugins.{name}.call_timeout_ms",
                    entry.get("call_timeout_ms"),
                    PLUGIN_LIMITS.call_timeout_ms,
                    86_400_000,
                ),
            )
            for flag in ("kv", "log"):
                if flag in entry and not isinstance(entry[flag], bool):
                    raise _bad(f"plugins.{name}.{flag}", f"must be true or false, got {entry[flag]!r}")
            allow = entry.get("http_allow")
            if allow is not None and (
                not isinstance(allow, list) or not all(isinstance(a, str) for a in allow)
            ):
                raise _bad(f"plugins.{name}.http_allow", "must be a list of host names")
            if entry.get("kv") and storage is None:
                from .._wasm.runtime import default_storage_path

                storage = SQLiteStorage(default_storage_path())
            grants = Grants(
                storage=storage if entry.get("kv") else None,
                http=HttpPolicy(allow=allow) if allow is not None else None,
                log=entry.get("log", True),
            )
            entries[name] = (base / entry["path"], grants, limits)
        return cls({n: Plugin(p, name=n, grants=g, limits=lim) for n, (p, g, lim) in entries.items()})

    def __getitem__(self, name: str) -> Plugin:
        try:
            return self._plugins[name]
        except KeyError:
            raise NotFoundError(f"no plugin {name!r}; the plugins are {sorted(self._plugins)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._plugins)

    def __len__(self) -> int:
        return len(self._plugins)

    def close(self) -> None:
        """Closes every plugin."""
        for plugin in self._plugins.values():
            plugin.close()
