"""The exceptions of `agentcell.memory`, named as seed 004 names them. Each also
subclasses the general `agentcell` exception for the same failure, so code that
catches `agentcell.InvalidArgumentError` (or `ValueError`) catches a bad embedding too.
"""

from __future__ import annotations

from ..errors import AgentcellError, InvalidArgumentError, NotFoundError, StorageError

__all__ = [
    "AxiomError",
    "CrawlerError",
    "HTMError",
    "InvalidRegistryError",
    "MemoryError",
    "MemoryStorageError",
    "UnknownAxiomError",
    "ValidationError",
]


class HTMError(AgentcellError):
    """A memory store (`HTMCore`) operation failed."""

    code = "htm"


class ValidationError(HTMError, InvalidArgumentError):
    """An argument was refused (wrong dimension, NaN or infinity, empty key, metadata
    that is not a JSON object); `field` names it. Nothing was stored."""

    code = "invalid-argument"


class MemoryStorageError(HTMError, StorageError):
    """The store's persistent storage failed; the in-memory store is unchanged and the
    write was not acknowledged."""

    code = "storage"


#: Seed 004's name for storage failures of the memory store.
MemoryError = MemoryStorageError


class AxiomError(AgentcellError):
    """A principle check failed: an unknown id or an inconsistent registry."""

    code = "axiom"


class UnknownAxiomError(AxiomError, NotFoundError):
    """The principle id is not in the registry."""

    code = "not-found"


class InvalidRegistryError(AxiomError, InvalidArgumentError):
    """A registered principle is malformed or refers to an unknown principle."""

    code = "invalid-argument"


class CrawlerError(AgentcellError, OSError):
    """The crawler cannot read the directory or file it was given."""

    code = "crawler"
