"""The time limits of running steps (a template step's `timeout_seconds`).

A Python thread cannot be stopped, so a run that outlives its limit is not killed:
its step is failed on time, as a retryable `timeout`, and whatever the handler returns
later is dropped (the step may meanwhile run again, on this or another worker)."""

from __future__ import annotations

import json
import threading
from typing import Any

from .types import ErrorType, StepHandlerResult

Key = tuple[str, str]


def _key(claimed: dict[str, Any]) -> Key:
    return (claimed["task_uuid"], claimed["step_uuid"])


class Deadlines:
    """Which running steps must end by when, and which ran out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._due: dict[Key, tuple[float, float, dict[str, Any]]] = {}
        self._expired: set[Key] = set()

    def start(self, claimed: dict[str, Any], timeout_s: float | None, now: float) -> None:
        """Step `claimed` starts now; it must end within `timeout_s` (None: no limit)."""
        if timeout_s is not None:
            with self._lock:
                self._due[_key(claimed)] = (now + timeout_s, timeout_s, claimed)

    def finish(self, claimed: dict[str, Any]) -> bool:
        """The handler returned: True when its result counts (the step did not run out)."""
        key = _key(claimed)
        with self._lock:
            self._due.pop(key, None)
            if key in self._expired:
                self._expired.discard(key)
                return False
            return True

    def expire(self, now: float) -> list[tuple[dict[str, Any], str]]:
        """The steps that ran out by `now`, each with its timeout result's JSON."""
        out: list[tuple[dict[str, Any], str]] = []
        with self._lock:
            for key, (deadline, limit, claimed) in list(self._due.items()):
                if deadline <= now:
                    del self._due[key]
                    self._expired.add(key)
                    failure = StepHandlerResult.failure(
                        f"the step ran longer than its timeout_seconds ({limit:g} s)",
                        ErrorType.TIMEOUT,
                        retryable=True,
                    )
                    elapsed = int(limit * 1000)
                    out.append((claimed, json.dumps({**failure.to_dict(), "execution_time_ms": elapsed})))
        return out

    def next_in(self, now: float) -> float | None:
        """Seconds until the next limit runs out (None: no step has one)."""
        with self._lock:
            if not self._due:
                return None
            return max(0.0, min(d for d, _, _ in self._due.values()) - now)
