"""Argument checks shared across the public API."""

from __future__ import annotations

from typing import Any

__all__ = ["strings"]


def strings(name: str, value: Any) -> list[str]:
    """`value` (a list, tuple or other iterable of strings; None for none) as a list.

    A bare string is refused with a `TypeError`, rather than split into its characters
    (``allow="api.example.com"`` would otherwise allow nothing anyone meant)."""
    if value is None:
        return []
    if isinstance(value, str | bytes):
        text = value if isinstance(value, str) else value.decode("utf-8", "replace")
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise TypeError(f"{name}: must be a list of strings, not one string (did you mean [{shown!r}]?)")
    try:
        items = list(value)
    except TypeError:
        raise TypeError(f"{name}: must be a list of strings, got {type(value).__name__}") from None
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"{name}[{i}]: must be a string, got {type(item).__name__}")
    return items
