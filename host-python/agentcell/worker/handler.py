"""Step handlers as classes (`StepHandler`), the registry that finds them by name, and
`run_step`, which calls one and turns whatever it does into a `StepHandlerResult`."""

from __future__ import annotations

import abc
import asyncio
import importlib
import inspect
import logging
import pkgutil
import traceback
from collections.abc import Awaitable
from typing import Any

from .errors import PermanentError, RetryableError, TaskerError, get_classifier
from .types import ErrorType, StepContext, StepHandlerResult

__all__ = ["HandlerRegistry", "StepHandler", "run_step"]

_LOG = logging.getLogger("agentcell.worker")


class StepHandler(abc.ABC):
    """A step's work. Subclass it, set `handler_name` (the name templates call it by)
    and implement `call(context)`, plain or `async`."""

    handler_name: str = ""
    handler_version: str = "1.0.0"

    @abc.abstractmethod
    def call(self, context: StepContext) -> StepHandlerResult | Awaitable[StepHandlerResult]:
        """Does the step's work; returns its result."""

    @property
    def name(self) -> str:
        """`handler_name`, else the class's name."""
        return self.handler_name or type(self).__name__

    @property
    def version(self) -> str:
        """`handler_version`."""
        return self.handler_version

    @property
    def capabilities(self) -> list[str]:
        """What the handler can do (routing by capability uses it)."""
        return ["process"]

    def config_schema(self) -> dict[str, Any] | None:
        """A JSON Schema of the handler's configuration, if it has one."""
        return None

    def success(
        self, result: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None
    ) -> StepHandlerResult:
        """`StepHandlerResult.success(result, metadata)`."""
        return StepHandlerResult.success(result, metadata)

    def failure(
        self,
        message: str,
        error_type: str | ErrorType = ErrorType.HANDLER_ERROR,
        retryable: bool = True,
        metadata: dict[str, Any] | None = None,
        error_code: str | None = None,
    ) -> StepHandlerResult:
        """`StepHandlerResult.failure(...)`."""
        return StepHandlerResult.failure(message, error_type, retryable, metadata, error_code)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, version={self.version!r})"


def _error_result(exc: BaseException) -> StepHandlerResult:
    """The failure a raised exception stands for, retryable as the classifier says."""
    retryable = get_classifier().retryable(exc)
    if isinstance(exc, PermanentError):
        kind = ErrorType.PERMANENT_ERROR.value
    elif isinstance(exc, RetryableError):
        kind = ErrorType.RETRYABLE_ERROR.value
    else:
        kind = ErrorType.HANDLER_ERROR.value
    metadata: dict[str, Any] = {"exception_type": type(exc).__name__, "retryable": retryable}
    if isinstance(exc, TaskerError):
        metadata.update(exc.metadata)
    else:
        metadata["traceback"] = "".join(traceback.format_exception(exc))
    code = exc.error_code if isinstance(exc, TaskerError) else None
    return StepHandlerResult.failure(str(exc), kind, retryable, metadata, code)


def run_step(handler: StepHandler, context: StepContext) -> StepHandlerResult:
    """Calls `handler` (an `async` one on an event loop of its own) and returns its
    result. An exception becomes a failure, retryable or not by the error rules; a
    handler returning something other than a `StepHandlerResult` fails, not retried."""
    try:
        out: Any = handler.call(context)
        if inspect.isawaitable(out):
            out = asyncio.run(_awaited(out))
    except Exception as exc:  # a handler's failure, whatever it is, becomes its result
        return _error_result(exc)
    if not isinstance(out, StepHandlerResult):
        return StepHandlerResult.failure(
            f"handler {handler.name!r} returned {type(out).__name__}, not a StepHandlerResult",
            ErrorType.PERMANENT_ERROR,
            retryable=False,
        )
    return out


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


class HandlerRegistry:
    """Handler classes by name. `resolve(name)` gives a new instance, or None."""

    _instance: HandlerRegistry | None = None

    def __init__(self) -> None:
        self._handlers: dict[str, type[StepHandler]] = {}

    @classmethod
    def instance(cls) -> HandlerRegistry:
        """The process-wide registry."""
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    @classmethod
    def reset_instance(cls) -> None:
        """Forgets the process-wide registry."""
        cls._instance = None

    def register(self, name: str, handler_class: type[StepHandler]) -> None:
        """Registers `handler_class` under `name` (replacing one, with a warning).
        `ValueError` unless it is a `StepHandler` subclass."""
        if not (isinstance(handler_class, type) and issubclass(handler_class, StepHandler)):
            raise ValueError(f"handler {name!r}: {handler_class!r} is not a StepHandler subclass")
        if name in self._handlers and self._handlers[name] is not handler_class:
            _LOG.warning("handler %r replaced by %s", name, handler_class.__name__)
        self._handlers[name] = handler_class

    def unregister(self, name: str) -> bool:
        """Removes `name`; True when it was registered."""
        return self._handlers.pop(name, None) is not None

    def resolve(self, name: str) -> StepHandler | None:
        """A new instance of the handler registered as `name`, or None."""
        cls = self._handlers.get(name)
        return cls() if cls is not None else None

    def get_handler_class(self, name: str) -> type[StepHandler] | None:
        """The class registered as `name`, or None."""
        return self._handlers.get(name)

    def is_registered(self, name: str) -> bool:
        """True when `name` is registered."""
        return name in self._handlers

    def list_handlers(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._handlers)

    def handler_count(self) -> int:
        """How many handlers are registered."""
        return len(self._handlers)

    def clear(self) -> None:
        """Forgets every handler."""
        self._handlers.clear()

    def discover_handlers(self, package: str) -> int:
        """Imports `package` and its submodules and registers every `StepHandler`
        subclass with a `handler_name`, and every function made by `@step_handler`;
        returns how many were registered."""
        root = importlib.import_module(package)
        modules = [root]
        for info in pkgutil.walk_packages(getattr(root, "__path__", []), prefix=f"{package}."):
            modules.append(importlib.import_module(info.name))
        found: set[type[StepHandler]] = set()
        for module in modules:
            for value in vars(module).values():
                cls = getattr(value, "_handler_class", value)
                if (
                    isinstance(cls, type)
                    and issubclass(cls, StepHandler)
                    and not inspect.isabstract(cls)
                    and cls.handler_name
                ):
                    self.register(cls.handler_name, cls)
                    found.add(cls)
        return len(found)
