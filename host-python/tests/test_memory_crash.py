"""Batches are whole or absent after kill -9, across calls and partitions (issue 18: a
207-row batch was once found with 104 rows after a kill). Pieces are written pending and
committed by one record in partition 0's storage, written last (WIT `memory.put-pending`)."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from agentcell.memory import HTMCore, _htm, _partition

ROWS = 207
DIM = 64

# The writer: batches of 207 rows over 2 partitions, in calls of at most 16 rows (so
# ~7 calls per partition per batch), each acknowledged on stdout once stored.
WRITER = """
import sys
import numpy as np
from agentcell.memory import HTMCore, _htm
_htm.CHUNK_ROWS = 16
htm = HTMCore(sys.argv[1], dimension=64, partitions=2)
rng = np.random.default_rng(int(sys.argv[2]))
for b in range(int(sys.argv[2]), 10**9):
    htm.store_embeddings([f"b{b}-{i}" for i in range(207)], rng.standard_normal((207, 64)))
    print(b, flush=True)
"""


def _batches(htm: HTMCore) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key in list(htm):
        batch = key.split("-")[0]
        counts[batch] = counts.get(batch, 0) + 1
    return counts


def test_kill_9_loop_leaves_every_batch_whole_or_absent(tmp_path: Path) -> None:
    path = tmp_path / "crash"
    chooser = random.Random(18)
    acknowledged: set[str] = set()
    start = 0
    for _ in range(12):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(start)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        first = child.stdout.readline()  # the writer is under way
        assert first, "the writer started"
        acknowledged.add(f"b{int(first)}")
        time.sleep(chooser.uniform(0.0, 0.4))
        child.kill()  # SIGKILL: most likely in the middle of a batch
        rest, _ = child.communicate()
        acknowledged.update(f"b{int(line)}" for line in rest.split())
        with HTMCore(path, dimension=DIM) as htm:
            counts = _batches(htm)
            assert {b: n for b, n in counts.items() if n != ROWS} == {}, "a batch is partly present"
            assert acknowledged <= set(counts), "an acknowledged batch is missing"
            start = max(int(b[1:]) for b in counts) + 1


def _store(htm: HTMCore, name: str, rng: np.random.Generator) -> None:
    htm.store_embeddings([f"{name}-{i}" for i in range(ROWS)], rng.standard_normal((ROWS, DIM)))


def test_a_batch_decided_by_partition_0_rolls_forward_at_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(1)
    monkeypatch.setattr(_htm, "CHUNK_ROWS", 16)
    htm = HTMCore(tmp_path, dimension=DIM, partitions=2)

    def commit_partition_0_only(self: HTMCore, batch: str, *_: object) -> None:
        self._parts[0].call(_htm.Memory.store_commit_batch, batch)
        raise SystemExit("the writer dies before partition 1's commit record")

    monkeypatch.setattr(HTMCore, "_finish_batch", commit_partition_0_only)
    with pytest.raises(SystemExit):
        _store(htm, "decided", rng)
    monkeypatch.undo()
    with HTMCore(tmp_path, dimension=DIM) as again:
        assert _batches(again) == {"decided": ROWS}
        assert again._parts[1].call(_htm.Memory.store_pending_batches) == []


def test_a_batch_without_its_decision_stays_invisible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(2)
    monkeypatch.setattr(_htm, "CHUNK_ROWS", 16)
    htm = HTMCore(tmp_path, dimension=DIM, partitions=2)
    _store(htm, "kept", rng)

    def die(*_: object) -> None:
        raise SystemExit("the writer dies before any commit record")

    monkeypatch.setattr(HTMCore, "_finish_batch", die)
    with pytest.raises(SystemExit):
        _store(htm, "undecided", rng)
    monkeypatch.undo()
    with HTMCore(tmp_path, dimension=DIM) as again:
        assert _batches(again) == {"kept": ROWS}
        assert len(again._parts[0].call(_htm.Memory.store_pending_batches)) == 1


def test_a_failed_batch_is_aborted_and_the_store_stays_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(3)
    monkeypatch.setattr(_htm, "CHUNK_ROWS", 16)
    htm = HTMCore(tmp_path, dimension=DIM, partitions=2)
    _store(htm, "kept", rng)
    calls = 0
    real = _partition.Partition.call

    def fail_the_fifth_piece(self: _partition.Partition, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        if fn is _htm.Memory.store_put_pending:
            calls += 1
            if calls == 5:
                raise _partition.MemoryStorageError("disk full (simulated)")
        return real(self, fn, *args, **kwargs)

    monkeypatch.setattr(_partition.Partition, "call", fail_the_fifth_piece)
    with pytest.raises(_partition.MemoryStorageError):
        _store(htm, "failed", rng)
    monkeypatch.undo()
    assert _batches(htm) == {"kept": ROWS}, "the writer forgot the aborted pieces"
    assert [p.call(_htm.Memory.store_pending_batches) for p in htm._parts] == [[], []]
    htm.close()
    with HTMCore(tmp_path, dimension=DIM) as again:
        assert _batches(again) == {"kept": ROWS}
