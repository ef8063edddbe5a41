"""Clients of the Attuned HTTP API (`agentcell serve`, or any server of the same API).

    async with AttunedClient("http://127.0.0.1:8080", api_key="sk_...") as client:
        await client.upsert_state(snapshot)
        context = await client.get_context("user_123")

The component builds every request and interprets every answer (status codes, error
bodies, retries with backoff and `Retry-After`): `attune-client.prepare` and
`.interpret`. This module only moves bytes, through the runtime's HTTP policy, and
never holds the component instance while it waits on the network, so many requests
can be in flight at once. `AttunedClient` (async) and `SyncAttunedClient` share one
implementation (`agentcell._exchange`), as httpx's clients do.

As upstream's client: `get_state` of an unknown user is `None`, `delete_state` and
`health` answer `bool` (`health` is `False`, not an error, when the service cannot be
reached or is unhealthy). Errors: `InvalidArgumentError` (400), `AuthenticationError`
(401/403), `NotFoundError` (404 of a context), `RateLimitedError` (429, `.retry_after`),
`ServerError` (5xx), `HttpTimeoutError` / `HttpError` (no answer), `HttpDeniedError`
(allow-list).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

from .._exchange import Exchange, Interpret, Prepare, run_async, run_sync
from .._wasm import Runtime
from ..errors import AgentcellError, NotFoundError
from ._model import PromptContext, StateSnapshot

__all__ = ["AttunedClient", "SyncAttunedClient"]


def _interface(runtime: Runtime) -> tuple[Prepare, Interpret]:
    client = runtime.exports.attune_client
    return client.prepare, client.interpret


def _exchange(
    base_url: str, api_key: str | None, timeout: float, max_retries: int, runtime: Runtime | None
) -> Exchange:
    return Exchange(base_url, api_key, timeout, max_retries, runtime, _interface)


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
        self._exchange = _exchange(base_url, api_key, timeout, max_retries, runtime)
        self._pool = ThreadPoolExecutor(max_workers=max_connections, thread_name_prefix="attuned-client")

    async def _run(self, op: Any) -> Any:
        return await run_async(self._exchange, self._pool, op)

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
        self._exchange = _exchange(base_url, api_key, timeout, max_retries, runtime)

    def _run(self, op: Any) -> Any:
        return run_sync(self._exchange, op)

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
