"""Plugins as AI Spine flow agents: `plugin_agent(plugin)` is a callable a `FlowEngine`
registers like any in-process agent, so a flow node runs the plugin:

    engine.register_agent("stats", plugin_agent(stats), capabilities=["count"])

The plugin gets ``{"input": <the node's input>, "config": <the node's config>}`` as
JSON and its answer is the node's output (an object as it is, anything else as
``{"result": value}``); a plugin error, a limit or a trap fails the node with its
message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._plugin import Plugin

__all__ = ["plugin_agent"]


def plugin_agent(plugin: Plugin) -> Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]:
    """A flow agent function that runs `plugin` on the node's input and config."""

    def agent(data: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        out = plugin.call({"input": data, "config": config})
        return out if isinstance(out, dict) else {"result": out}

    agent.__name__ = f"plugin_agent[{plugin.name}]"
    return agent
