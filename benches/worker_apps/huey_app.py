"""The same handlers as Huey tasks, on SqliteHuey at `HUEY_DB` (`HUEY_FSYNC=1`: a
sync per commit, as agentcell's SQLite storage does)."""

from __future__ import annotations

import os

from huey import SqliteHuey

huey = SqliteHuey(
    "bench",
    filename=os.environ.get("HUEY_DB", "huey.db"),
    fsync=os.environ.get("HUEY_FSYNC") == "1",
)


@huey.task()
def noop() -> dict[str, int]:
    return {}


@huey.task()
def square(n: int) -> int:
    return n * n


@huey.task()
def add(start: int) -> int:
    return start + 25


@huey.task()
def double(start: int) -> int:
    return start * 2


@huey.task()
def average(left: int, right: int) -> float:
    return (left + right) / 2
