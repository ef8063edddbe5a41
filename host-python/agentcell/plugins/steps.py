"""Plugins as workflow steps: a template step whose `handler: callable` is
``plugin:<name>`` runs that plugin. The plugin is called with one JSON object:

```json
{"step": "count", "context": {...task context...},
 "dependencies": {"<step>": <its result>}, "config": {...}, "attempt": 1}
```

and its answer is the step's result (an object as it is, anything else as
``{"result": value}``). Its `invalid-input` and `permanent` errors fail the step at
once; `retryable` errors and a call past its time limit are retried as the step's
retry settings say; a memory cap or a trap fails it at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ComponentTrap, ResourceLimitError
from ..worker.handler import HandlerRegistry, StepHandler
from ..worker.types import ErrorType, StepContext, StepHandlerResult
from ._plugin import Plugin, PluginError

__all__ = ["PLUGIN_PREFIX", "plugin_step_handler", "register_plugins"]

#: Templates name a plugin as ``plugin:<name>``.
PLUGIN_PREFIX = "plugin:"


def _envelope(context: StepContext) -> dict[str, Any]:
    return {
        "step": context.step_name,
        "context": context.input_data,
        "dependencies": context.dependency_results,
        "config": context.step_config,
        "attempt": context.retry_count + 1,
    }


def plugin_step_handler(plugin: Plugin) -> type[StepHandler]:
    """A `StepHandler` class that runs `plugin` (one plugin instance shared by the
    handler's instances; calls into it are serialised)."""

    class PluginStep(StepHandler):
        handler_name = f"{PLUGIN_PREFIX}{plugin.name}"
        handler_version = plugin.info.version

        def call(self, context: StepContext) -> StepHandlerResult:
            meta = {"plugin": plugin.name, "plugin_version": plugin.info.version}
            try:
                out = plugin.call(_envelope(context))
            except PluginError as e:
                kind = ErrorType.RETRYABLE_ERROR if e.retryable else ErrorType.PERMANENT_ERROR
                return self.failure(e.message, kind, e.retryable, meta, error_code=e.kind)
            except ResourceLimitError as e:
                timed_out = e.limit == "time"
                kind = ErrorType.TIMEOUT if timed_out else ErrorType.PERMANENT_ERROR
                return self.failure(e.message, kind, timed_out, meta, error_code=f"{e.limit}-limit")
            except ComponentTrap as e:
                return self.failure(e.message, ErrorType.PERMANENT_ERROR, False, meta, error_code="trap")
            return self.success(out if isinstance(out, dict) else {"result": out}, meta)

    PluginStep.__name__ = PluginStep.__qualname__ = f"PluginStep[{plugin.name}]"
    return PluginStep


def register_plugins(plugins: Mapping[str, Plugin], registry: HandlerRegistry | None = None) -> list[str]:
    """Registers each plugin as handler ``plugin:<name>`` (in the process-wide registry
    unless one is given); the names registered."""
    registry = registry or HandlerRegistry.instance()
    names = []
    for plugin in plugins.values():
        handler = plugin_step_handler(plugin)
        registry.register(handler.handler_name, handler)
        names.append(handler.handler_name)
    return names
