"""AI Spine (seed 002) in agentcell: flows of agents, their executions, and the clients.

* `AISpine` (alias `Client`) and `AsyncAISpine`: clients of the HTTP API served by
  `agentcell serve` (or upstream's backend), with the official SDK's methods and
  exceptions.
* `FlowEngine`: the same engine in this process, no server; agents are Python callables
  or HTTP endpoints.
* `Flow`, `Execution`: typed records of the API's dictionaries.
"""

from __future__ import annotations

from .client import DEFAULT_BASE_URL, AISpine, AsyncAISpine, Client
from .engine import AgentFunction, FlowEngine
from .errors import (
    AISpineError,
    APIError,
    AuthenticationError,
    ExecutionError,
    InsufficientCreditsError,
    NetworkError,
    RateLimitError,
    TimeoutError,
    ValidationError,
)
from .models import TERMINAL_STATUSES, Execution, Flow

__all__ = [
    "DEFAULT_BASE_URL",
    "TERMINAL_STATUSES",
    "AISpine",
    "AISpineError",
    "APIError",
    "AgentFunction",
    "AsyncAISpine",
    "AuthenticationError",
    "Client",
    "Execution",
    "ExecutionError",
    "Flow",
    "FlowEngine",
    "InsufficientCreditsError",
    "NetworkError",
    "RateLimitError",
    "TimeoutError",
    "ValidationError",
]
