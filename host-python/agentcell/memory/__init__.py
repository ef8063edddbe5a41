"""Embedding memory, principle checks and a code crawler (seed 004), on the agentcell
core. Needs numpy (``pip install 'agentcell[memory]'``).

    >>> import numpy as np
    >>> from agentcell.memory import HTMCore
    >>> htm = HTMCore(":memory:", dimension=3)
    >>> htm.store_embedding("a", np.array([1.0, 0.0, 0.0]), {"lang": "py"})
    >>> htm.search_similar(np.array([0.9, 0.1, 0.0]), limit=1)
    [('a', 0.9938837..., {'lang': 'py'})]
"""

from __future__ import annotations

from ._axioms import MAX_TENSION, MIN_RESONANCE, AxiomValidator, Principle
from ._config import Settings, configure_ffi
from ._crawler import CodeBaseCrawler, Embedder, ProgressCallback
from ._htm import DEFAULT_DIMENSION, HTMCore, IndexKind, SearchHit
from .exceptions import (
    AxiomError,
    CrawlerError,
    HTMError,
    InvalidRegistryError,
    MemoryError,
    MemoryStorageError,
    UnknownAxiomError,
    ValidationError,
)
from .kernels import (
    EthicalGate,
    HarmonicKernel,
    ResonanceKernel,
    ResonanceScore,
    calculate_resonance_score,
    validate_nam_compliance,
)

__all__ = [
    "DEFAULT_DIMENSION",
    "MAX_TENSION",
    "MIN_RESONANCE",
    "AxiomError",
    "AxiomValidator",
    "CodeBaseCrawler",
    "CrawlerError",
    "Embedder",
    "EthicalGate",
    "HTMCore",
    "HTMError",
    "HarmonicKernel",
    "IndexKind",
    "InvalidRegistryError",
    "MemoryError",
    "MemoryStorageError",
    "MultiAgentOrchestrator",
    "Principle",
    "ProgressCallback",
    "ResonanceKernel",
    "ResonanceScore",
    "SearchHit",
    "Settings",
    "UnknownAxiomError",
    "ValidationError",
    "calculate_resonance_score",
    "configure_ffi",
    "validate_nam_compliance",
]


def __getattr__(name: str) -> object:
    # The orchestrator runs on the workflow engine (agentcell.worker), imported when asked for.
    if name == "MultiAgentOrchestrator":
        from ..worker.orchestrator import MultiAgentOrchestrator

        return MultiAgentOrchestrator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
