"""Async twins: every `*_async` function is its sync twin run in a worker thread, made
from it here, so the two take exactly the same parameters and share one implementation."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def async_twin(fn: Callable[P, T]) -> Callable[P, Coroutine[Any, Any, T]]:
    """`fn` as a coroutine function that runs it with `asyncio.to_thread`, so the event
    loop keeps running while the component works (or waits on the network)."""

    @functools.wraps(fn)
    async def twin(*args: P.args, **kwargs: P.kwargs) -> T:
        import asyncio  # ~40 ms to import: paid by async callers only

        return await asyncio.to_thread(fn, *args, **kwargs)

    twin.__name__ = f"{fn.__name__}_async"
    twin.__qualname__ = f"{fn.__qualname__}_async"
    twin.__doc__ = f"`{fn.__name__}` run in a worker thread; the same parameters and result."
    return twin
