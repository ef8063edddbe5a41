"""Clients of the Attuned HTTP API (`agentcell serve`, or any server of the same API).

    async with AttunedClient("http://127.0.0.1:8080", api_key="sk_...") as client:
        await client.upsert_state(snapshot)
        context = await client.get_context("user_123")

The component builds every request and interprets every answer (status codes, error
bodies, retries with backoff and `Retry-After`): `attune-client.prepare` and
`.interpret`. This module only moves bytes, through the runtime's HTTP policy, and
never holds the component instance while it waits on the network, so many requests
can be in flight at once. `AttunedClient` (async) and `SyncAttunedClient` share one
implementation (`_Exchange`), as httpx's clients do.

As upstream's client: `get_state` of an unknown user is `None`, `delete_state` and
`health` answer `bool` (`health` is `False`, not an error, when the service cannot be
reached or is unhealthy). Errors: `InvalidArgumentError` (400), `AuthenticationError`
(401/403), `NotFoundError` (404 of a context), `RateLimitedError` (429, `.retry_after`),
`ServerError` (5xx), `HttpTimeoutError` / `HttpError` (no answer), `HttpDeniedError`
(allow-list).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from .._wasm import Err, Ok, Runtime, send_request
from .._wit import AttuneClientClientConfig
from ..errors import AgentcellError, InvalidArgumentError, NotFoundError
from ..http import HttpPolicy
from ._model import PromptContext, StateSnapshot

__all__ = ["AttunedClient", "SyncAttunedClient"]

# One exchange: yields ("send", request) and receives the answer, yields
# ("sleep", seconds) between attempts, and returns the operation's result.
_Step = tuple[str, Any]


class _Exchange:
    """What both clients share: configuration, the runtime and the HTTP policy, and the
    request/answer loop driven by the component."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeout: float,
        max_retries: int,
        runtime: Runtime | None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidArgumentError(
                f"base_url: must be an absolute http(s) URL, got {base_url!r}", field="base_url"
            )
        if timeout <= 0:
            raise InvalidArgumentError(f"timeout: must be positive, got {timeout}", field="timeout")
        if max_retries < 0:
            raise InvalidArgumentError(
                f"max_retries: must not be negative, got {max_retries}", field="max_retries"
            )
        # The client talks to the one service it was given, and nowhere else.
        self.policy = HttpPolicy(allow=[parts.netloc], timeout=timeout)
        self.owns_runtime = runtime is None
        self.runtime = runtime or Runtime(":memory:", self.policy)
        self.config: AttuneClientClientConfig = {
            "base_url": base_url,
            "api_key": api_key,
            "max_retries": max_retries,
            "timeout_ms": max(1, int(timeout * 1000)),
        }

    def close(self) -> None:
        if self.owns_runtime:
            self.runtime.close()

    def steps(self, op: Any) -> Generator[_Step, Any, Any]:
        request = self.runtime.exports.attune_client.prepare(self.config, op)
        attempt = 0
        while True:
            answer = yield ("send", request)
            outcome = self.runtime.exports.attune_client.interpret(self.config, op, attempt, answer)
            if outcome[0] == "done":
                return outcome[1]
            yield ("sleep", outcome[1] / 1000)
            attempt += 1

    def send(self, request: dict[str, Any]) -> Ok | Err:
        """Blocking HTTP through the policy; the answer in the form `interpret` takes."""
        return send_request(self.policy, request)


def _op_upsert(snapshot: StateSnapshot) -> tuple[str, Any]:
    return ("upsert-state", snapshot._to_wit())


def _op_translate(snapshot: StateSnapshot) -> tuple[str, Any]:
    return ("translate", snapshot._to_wit())


def _context(value: tuple[str, Any]) -> PromptContext:
    return PromptContext._from_wit(value[1])


def _state(value: tuple[str, Any]) -> StateSnapshot:
    return StateSnapshot._from_wit(value[1])


class AttunedClient:
    """Async client. Use as `async with AttunedClient(url, api_key=...) as client:`."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_connections: int = 100,
        runtime: Runtime | None = None,
    ) -> None:
        self._exchange = _Exchange(base_url, api_key, timeout, max_retries, runtime)
        self._pool = ThreadPoolExecutor(max_workers=max_connections, thread_name_prefix="attuned-client")

    async def _run(self, op: Any) -> Any:
        loop = asyncio.get_running_loop()
        steps = self._exchange.steps(op)
        answer: Any = None
        try:
            while True:
                kind, arg = steps.send(answer)
                if kind == "send":
                    answer = await loop.run_in_executor(self._pool, self._exchange.send, arg)
                else:
                    await asyncio.sleep(arg)
                    answer = None
        except StopIteration as done:
            return done.value

    async def upsert_state(self, snapshot: StateSnapshot) -> None:
        await self._run(_op_upsert(snapshot))

    async def get_state(self, user_id: str) -> StateSnapshot | None:
        """The user's stored state, `None` when there is none."""
        try:
            return _state(await self._run(("get-state", user_id)))
        except NotFoundError:
            return None

    async def delete_state(self, user_id: str) -> bool:
        """Deletes the user's state; `True` once the service has none (as upstream's, the
        service answers the same whether there was any), `False` if it says not found."""
        try:
            await self._run(("delete-state", user_id))
        except NotFoundError:
            return False
        return True

    async def get_context(self, user_id: str) -> PromptContext:
        """Raises `NotFoundError` when the user has no state."""
        return _context(await self._run(("get-context", user_id)))

    async def translate(self, snapshot: StateSnapshot) -> PromptContext:
        """The service's context for `snapshot` (`POST /v1/translate`); nothing is stored."""
        return _context(await self._run(_op_translate(snapshot)))

    async def health(self) -> bool:
        """Whether the service answers `/health` with status ok."""
        try:
            return bool((await self._run(("health", None)))[1] == "ok")
        except AgentcellError:
            return False

    async def aclose(self) -> None:
        """Stops the client's threads and closes the runtime it made (not one it was given)."""
        self._pool.shutdown(wait=False)
        self._exchange.close()

    async def __aenter__(self) -> AttunedClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class SyncAttunedClient:
    """The synchronous twin of `AttunedClient`, sharing its implementation."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        runtime: Runtime | None = None,
    ) -> None:
        self._exchange = _Exchange(base_url, api_key, timeout, max_retries, runtime)

    def _run(self, op: Any) -> Any:
        steps = self._exchange.steps(op)
        answer: Any = None
        try:
            while True:
                kind, arg = steps.send(answer)
                if kind == "send":
                    answer = self._exchange.send(arg)
                else:
                    time.sleep(arg)
                    answer = None
        except StopIteration as done:
            return done.value

    def upsert_state(self, snapshot: StateSnapshot) -> None:
        self._run(_op_upsert(snapshot))

    def get_state(self, user_id: str) -> StateSnapshot | None:
        """The user's stored state, `None` when there is none."""
        try:
            return _state(self._run(("get-state", user_id)))
        except NotFoundError:
            return None

    def delete_state(self, user_id: str) -> bool:
        """Deletes the user's state; `True` once the service has none, `False` if it says
        not found."""
        try:
            self._run(("delete-state", user_id))
        except NotFoundError:
            return False
        return True

    def get_context(self, user_id: str) -> PromptContext:
        """Raises `NotFoundError` when the user has no state."""
        return _context(self._run(("get-context", user_id)))

    def translate(self, snapshot: StateSnapshot) -> PromptContext:
        """The service's context for `snapshot` (`POST /v1/translate`); nothing is stored."""
        return _context(self._run(_op_translate(snapshot)))

    def health(self) -> bool:
        """Whether the service answers `/health` with status ok."""
        try:
            return bool(self._run(("health", None))[1] == "ok")
        except AgentcellError:
            return False

    def close(self) -> None:
        """Closes the runtime the client made (not one it was given)."""
        self._exchange.close()

    def __enter__(self) -> SyncAttunedClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
