"""The request/answer loop shared by agentcell's HTTP API clients (Attuned, AI Spine).

The component builds every request and interprets every answer (status codes, error
bodies, retries with backoff and `Retry-After`): each client interface exports
`prepare(config, op)` and `interpret(config, op, attempt, answer)`. This module only
moves bytes, through an HTTP policy that allows the service's own address and nothing
else, and never holds the component instance while it waits on the network, so many
requests can be in flight at once. Sync and async clients drive the same steps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypedDict
from urllib.parse import urlsplit

from ._wasm import Err, Ok, Runtime, send_request
from .errors import InvalidArgumentError
from .http import HttpPolicy

__all__ = ["ClientConfig", "Exchange", "Interpret", "Prepare", "run_async", "run_sync"]


class ClientConfig(TypedDict):
    """The `client-config` record both client interfaces take."""

    base_url: str
    api_key: str | None
    max_retries: int
    timeout_ms: int


# `prepare(config, op) -> request`; raises on a bad argument.
Prepare = Callable[[ClientConfig, Any], Any]
# `interpret(config, op, attempt, answer) -> ("done", value) | ("retry", ms)`; raises on failure.
Interpret = Callable[[ClientConfig, Any, int, Any], Any]

# One exchange yields ("send", request) and receives the answer, yields ("sleep",
# seconds) between attempts, and returns the operation's result.
_Step = tuple[str, Any]
Steps = Generator[_Step, Any, Any]


def check_settings(base_url: str, timeout: float, max_retries: int) -> str:
    """The URL's `host:port` once the settings are sound; `InvalidArgumentError` naming
    the setting otherwise."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidArgumentError(
            f"base_url: must be an absolute http(s) URL, got {base_url!r}", field="base_url"
        )
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise InvalidArgumentError(f"timeout: must be a positive number, got {timeout!r}", field="timeout")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise InvalidArgumentError(
            f"max_retries: must be a non-negative integer, got {max_retries!r}", field="max_retries"
        )
    return parts.netloc


class Exchange:
    """Configuration, the runtime and the HTTP policy of one client, and the loop driven
    by the component's `prepare` and `interpret`."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeout: float,
        max_retries: int,
        runtime: Runtime | None,
        interface: Callable[[Runtime], tuple[Prepare, Interpret]],
    ) -> None:
        netloc = check_settings(base_url, timeout, max_retries)
        # The client talks to the one service it was given, and nowhere else.
        self.policy = HttpPolicy(allow=[netloc], timeout=timeout)
        self.owns_runtime = runtime is None
        self.runtime = runtime or Runtime(":memory:", self.policy)
        self.prepare, self.interpret = interface(self.runtime)
        self.config: ClientConfig = {
            "base_url": base_url,
            "api_key": api_key,
            "max_retries": max_retries,
            "timeout_ms": max(1, min(2**32 - 1, int(timeout * 1000))),
        }

    def close(self) -> None:
        if self.owns_runtime:
            self.runtime.close()

    def steps(self, op: Any) -> Steps:
        request = self.prepare(self.config, op)
        attempt = 0
        while True:
            answer = yield ("send", request)
            outcome = self.interpret(self.config, op, attempt, answer)
            if outcome[0] == "done":
                return outcome[1]
            yield ("sleep", outcome[1] / 1000)
            attempt += 1

    def send(self, request: dict[str, Any]) -> Ok | Err:
        """Blocking HTTP through the policy; the answer in the form `interpret` takes."""
        return send_request(self.policy, request)


def run_sync(exchange: Exchange, op: Any) -> Any:
    """Runs one operation, blocking."""
    steps = exchange.steps(op)
    answer: Any = None
    try:
        while True:
            kind, arg = steps.send(answer)
            if kind == "send":
                answer = exchange.send(arg)
            else:
                time.sleep(arg)
                answer = None
    except StopIteration as done:
        return done.value


async def run_async(exchange: Exchange, pool: ThreadPoolExecutor, op: Any) -> Any:
    """Runs one operation; the network waits happen on `pool`, the sleeps on the loop."""
    loop = asyncio.get_running_loop()
    steps = exchange.steps(op)
    answer: Any = None
    try:
        while True:
            kind, arg = steps.send(answer)
            if kind == "send":
                answer = await loop.run_in_executor(pool, exchange.send, arg)
            else:
                await asyncio.sleep(arg)
                answer = None
    except StopIteration as done:
        return done.value
