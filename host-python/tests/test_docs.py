"""Every Python example in the docs runs: each page's ```python blocks, in order, in one
namespace, in a fresh directory, with a real `agentcell serve` for the client examples."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import KEY, REPO, Server

PAGES = [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_every_system_has_a_page() -> None:
    names = {p.stem for p in PAGES}
    assert {"attune", "aispine", "memory", "hosts", "boundary", "worker", "mesh", "plugins"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = BLOCK.findall(page.read_text())
    if not blocks:
        pytest.skip(f"{page.name} has no Python example")
    server = Server(tmp_path / "served", "--rate-limit", "0", "--allow-agent", "127.0.0.1")
    try:
        monkeypatch.setenv("AGENTCELL_URL", server.base)
        monkeypatch.setenv("AGENTCELL_KEY", KEY)
        monkeypatch.chdir(tmp_path)
        namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
        for i, code in enumerate(blocks):
            exec(compile(code, f"{page.name}[python block {i}]", "exec"), namespace)
    finally:
        server.stop()
