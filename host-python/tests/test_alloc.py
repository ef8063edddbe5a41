"""The allocator settings for bulk transfers (`agentcell._alloc`): each test runs in a
child process, since the settings are process-wide."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="glibc only",
)

# Frees and reallocates 16 MiB of `size`-byte buffers (256 KiB: what HTMCore moves) 20
# times and prints the page faults it cost after the first round.
CHURN = textwrap.dedent(
    """
    import resource, sys
    {setup}
    def churn():
        return [b"x" * {size} for _ in range(16 * 1024 * 1024 // {size})]
    churn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        churn()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)


def faults(setup: str, size: int = 256 * 1024, **env: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", CHURN.format(setup=setup, size=size)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    return int(out.stdout)


def test_htmcore_keeps_freed_buffers_instead_of_refaulting_them() -> None:
    cold = faults("pass")
    warm = faults("from agentcell.memory import HTMCore\nHTMCore(':memory:').close()")
    # Without: glibc returns the freed top of the heap every round (~4,000 faults each).
    assert cold > 20_000
    assert warm < cold // 10


def test_the_setting_can_be_turned_off_and_yields_to_tune_allocator() -> None:
    htm = "from agentcell.memory import HTMCore\nHTMCore(':memory:').close()"
    assert faults(htm, AGENTCELL_TUNE_ALLOCATOR="0") > 20_000
    # After tune_allocator(), HTMCore leaves its (stronger) setting alone.
    assert faults("import agentcell\nagentcell.tune_allocator()\n" + htm, size=4 << 20) < 2_000
    script = "from agentcell import _alloc\nassert _alloc.tune_allocator()\nassert _alloc.keep_heap_warm()"
    subprocess.run([sys.executable, "-c", script], check=True)
