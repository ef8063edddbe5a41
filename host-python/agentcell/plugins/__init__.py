"""Users' own code as plugins: WASI 0.2 components of the world `agentcell:plugin`
(`plugins/wit/plugin.wit`), run under limits (memory cap, call deadline) with only the
capabilities granted (a log, a key-value namespace of their own, allow-listed HTTP).

```python
from agentcell.plugins import Grants, Plugin
from agentcell import HttpPolicy, Limits

stats = Plugin("text_stats.wasm", limits=Limits(memory_mb=64, call_timeout_ms=1000))
stats.call({"text": "one two three"})   # {"words": 3, "characters": 13, ...}
```

`PluginSet.from_config(path)` loads plugins from the JSON file every host reads;
`plugin_step_handler` makes a plugin a workflow step handler, `plugin_agent` an AI
Spine flow agent.
"""

from __future__ import annotations

from ._plugin import PLUGIN_LIMITS, Grants, Plugin, PluginError, PluginInfo
from .agents import plugin_agent
from .config import PluginSet
from .steps import plugin_step_handler, register_plugins

__all__ = [
    "PLUGIN_LIMITS",
    "Grants",
    "Plugin",
    "PluginError",
    "PluginInfo",
    "PluginSet",
    "plugin_agent",
    "plugin_step_handler",
    "register_plugins",
]
