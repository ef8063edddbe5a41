"""`configure_ffi` as the seed imports it (``from anam_py import configure_ffi``): the
process-wide settings of `agentcell._settings`, its refusals as this package's
`ValidationError`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._settings import Settings
from .._settings import configure_ffi as _configure
from ..errors import InvalidArgumentError
from .exceptions import ValidationError

__all__ = ["Settings", "configure_ffi"]


def configure_ffi(options: Mapping[str, Any]) -> Settings:
    """Sets ``thread_pool_size``, ``memory_limit_mb``, ``enable_logging``, ``log_level``
    and ``cache_size_mb`` (see `agentcell.configure_ffi`); an unknown key or a bad value
    is a `ValidationError` naming it, and nothing is changed."""
    try:
        return _configure(options)
    except ValidationError:
        raise
    except InvalidArgumentError as e:
        raise ValidationError(e.message, field=e.field) from None
