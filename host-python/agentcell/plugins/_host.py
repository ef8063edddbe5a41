"""What a plugin's `agentcell:plugin/host` imports do in the Python host: the log, the
plugin's own key-value namespace, and HTTP through its allow-list. Each refuses with
`denied` what the plugin was not granted. The same rules hold in every host (see
`plugins/README.md`)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

from .._wasm.values import Err, Ok
from ..http import HttpFailure, HttpPolicy
from ..storage import StorageBackend, StorageFailure

__all__ = ["MAX_KV_KEY_BYTES", "MAX_KV_VALUE_BYTES", "MAX_LOG_BYTES", "host_imports"]

MAX_LOG_BYTES = 64 * 1024
MAX_KV_KEY_BYTES = 512
MAX_KV_VALUE_BYTES = 1 << 20
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


def _kv_rules(key: str, value: str | None = None) -> Err | None:
    if not key:
        return Err(("invalid", "a key must not be empty"))
    if len(key.encode()) > MAX_KV_KEY_BYTES:
        return Err(("invalid", f"a key must be at most {MAX_KV_KEY_BYTES} bytes"))
    if value is not None and len(value.encode()) > MAX_KV_VALUE_BYTES:
        return Err(("invalid", f"a value must be at most {MAX_KV_VALUE_BYTES} bytes"))
    return None


def host_imports(
    name: str,
    get_storage: Callable[[], StorageBackend] | None,
    http: HttpPolicy | None,
    log: bool,
) -> dict[str, Callable[..., Any]]:
    """The handlers of the `host` interface for plugin `name`: its log goes to the
    `agentcell.plugin.<name>` logger, its keys to namespace `plugin/<name>` of
    `get_storage()` (None: no key-value grant), its requests through `http` (None: no
    HTTP grant)."""
    logger = logging.getLogger(f"agentcell.plugin.{name}")
    namespace = f"plugin/{name}"

    def write_log(level: str, message: str) -> None:
        if log:
            logger.log(_LEVELS.get(level, logging.INFO), "%s", message[:MAX_LOG_BYTES])

    def kv(op: Callable[[StorageBackend], Any], key: str, value: str | None = None) -> Ok | Err:
        if get_storage is None:
            return Err(("denied", f"plugin {name} has no key-value grant"))
        broken = _kv_rules(key, value)
        if broken is not None:
            return broken
        try:
            return Ok(op(get_storage()))
        except StorageFailure as e:
            return Err(("unavailable", e.message))

    def fetch(req: dict[str, Any]) -> Ok | Err:
        if http is None:
            return Err(("denied", f"plugin {name} has no HTTP grant; {req['url']} was not sent"))
        try:
            r = http.send(
                req["method"], req["url"], [tuple(h) for h in req["headers"]], req["body"] or None, None
            )
        except HttpFailure as e:
            kind = e.kind if e.kind in ("denied", "timeout") else "failed"
            return Err((kind, e.message))
        body = r.body if r.body_encoding == "utf8" else base64.b64decode(r.body).decode(errors="replace")
        return Ok({"status": r.status, "headers": r.headers, "body": body})

    return {
        "log": write_log,
        "kv-get": lambda key: kv(lambda s: s.get(namespace, key), key),
        "kv-set": lambda key, value: kv(lambda s: s.set(namespace, key, value), key, value),
        "kv-delete": lambda key: kv(lambda s: s.delete(namespace, key), key),
        "fetch": fetch,
    }
