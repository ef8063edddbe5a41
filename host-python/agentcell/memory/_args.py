"""Checks of the memory API's plain arguments, before anything reaches the component:
each bad value is a `ValidationError` naming the argument and the rule, and never
echoes a large input back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .exceptions import ValidationError

#: Search results at most (WIT `memory.search-options.limit`).
MAX_LIMIT = 10_000


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def integer(name: str, value: Any, lowest: int, highest: int) -> int:
    """`value` as an int in `lowest..=highest` (a bool is not an integer here)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name}: must be an integer, got {type(value).__name__}", field=name)
    if not lowest <= value <= highest:
        raise ValidationError(f"{name}: must be in {lowest}..={highest}, got {_shown(value)}", field=name)
    return value


def number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{name}: must be a number, got {type(value).__name__}", field=name)
    return float(value)


def key(name: str, value: Any) -> str:
    """A key: a string that is valid Unicode text (no lone surrogates)."""
    if not isinstance(value, str):
        raise ValidationError(f"{name}: must be a string, got {type(value).__name__}", field=name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValidationError(
            f"{name}: must be valid Unicode text; it holds a lone surrogate at index {e.start}", field=name
        ) from None
    return value


def json_object(name: str, value: Any) -> str:
    """A mapping whose keys are strings and whose values JSON can hold, as JSON text."""
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"{name}: must be a mapping of field to value, got {type(value).__name__}", field=name
        )
    for k in value:
        key(f"{name} key", k)
    try:
        return json.dumps(dict(value), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValidationError(
            f"{name}: every value must be JSON (str, number, bool, None, list, dict): {e}", field=name
        ) from None
