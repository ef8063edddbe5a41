"""Large valid batches are stored whole, never trap: calls are sized by bytes, not rows
(issue 18: dimension 8192 x 10,000 rows trapped after 1,808 rows; 65536 x 400 too)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agentcell.memory import HTMCore
from agentcell.memory._htm import CHUNK_BYTES, chunk_rows


def test_calls_are_sized_by_bytes() -> None:
    assert chunk_rows(768) == 4096
    assert chunk_rows(8192) * 8192 * 4 <= CHUNK_BYTES
    assert chunk_rows(65536) == 64 and chunk_rows(10**7) == 1


@pytest.mark.parametrize(("dimension", "rows"), [(8192, 10_000), (65536, 4096)], ids=["320MB", "1GiB"])
def test_a_large_batch_is_stored_whole_and_survives_a_reopen(
    tmp_path: Path, dimension: int, rows: int
) -> None:
    batch = np.random.default_rng(dimension).standard_normal((rows, dimension), dtype=np.float32)
    keys = [f"k{i}" for i in range(rows)]
    with HTMCore(tmp_path, dimension=dimension) as htm:
        assert htm.store_embeddings(keys, batch) == rows
        assert htm.get_memory_stats()["entries"] == rows
    del batch
    with HTMCore(tmp_path, dimension=dimension) as again:
        assert again.get_memory_stats()["entries"] == rows
        last = again.get_embedding(keys[-1])
        assert last is not None and last["embedding"].shape == (dimension,)
        assert again.search_similar(last["embedding"], limit=1)[0][0] == keys[-1]
