"""Limits on a component instance: a cap on its linear memory and a deadline on each
call. Memory is capped by the store's limits (a `memory.grow` past the cap fails, the
guest's allocator aborts, the call traps); time by epoch interruption: every engine
counts epochs, a ticker thread advances them every `TICK_MS` while some runtime has a
deadline, and a call past its deadline traps at the next loop or function entry.
Either way the runtime raises `ResourceLimitError` and replaces the instance."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import wasmtime

__all__ = ["NO_DEADLINE", "TICK_MS", "Limits", "deadline_ticks", "limit_hit", "start_ticker"]

#: How often the epoch advances while a deadline is in force (the deadline's grain).
TICK_MS = 5
#: The deadline of a store with no time limit: 2**40 ticks, centuries at `TICK_MS`.
NO_DEADLINE = 1 << 40


@dataclass(frozen=True)
class Limits:
    """What one component instance may use. `memory_mb`: its linear memory, in MiB
    (None: wasm's own 4 GiB). `call_timeout_ms`: the wall-clock time of one call into it
    (None: no deadline). A call past either raises `ResourceLimitError`."""

    memory_mb: int | None = 1024
    call_timeout_ms: int | None = None

    @property
    def memory_bytes(self) -> int | None:
        return None if self.memory_mb is None else self.memory_mb << 20


def deadline_ticks(timeout_ms: int) -> int:
    """Ticks for a deadline of `timeout_ms`: at least that long, at most one tick more."""
    return -(-timeout_ms // TICK_MS) + 1


_TICKERS: weakref.WeakKeyDictionary[wasmtime.Engine, threading.Thread] = weakref.WeakKeyDictionary()
_TICKERS_LOCK = threading.Lock()


def start_ticker(engine: wasmtime.Engine) -> None:
    """Starts `engine`'s epoch ticker (a daemon thread) unless it runs already."""
    with _TICKERS_LOCK:
        if engine in _TICKERS:
            return
        ref = weakref.ref(engine)
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(TICK_MS / 1000):
                live = ref()
                if live is None:
                    return
                live.increment_epoch()
                del live

        thread = threading.Thread(target=tick, name="agentcell-epoch", daemon=True)
        _TICKERS[engine] = thread
        thread.start()


def limit_hit(limits: Limits, trap_text: str, stderr: str) -> str | None:
    """Which limit a trap came from: ``"time"`` (the epoch deadline interrupted the
    call), ``"memory"`` (an allocation failed under the cap), or None (another trap)."""
    if limits.call_timeout_ms is not None and "interrupt" in trap_text:
        return "time"
    if "memory allocation of" in stderr and "failed" in stderr:
        return "memory"
    return None
