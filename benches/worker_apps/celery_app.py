"""The same handlers as Celery tasks, with Redis (`CELERY_REDIS`) as broker and result
backend: Celery's usual production setup."""

from __future__ import annotations

import os

from celery import Celery

url = os.environ.get("CELERY_REDIS", "redis://127.0.0.1:6379/0")
app = Celery("bench", broker=url, backend=url)
app.conf.update(
    task_acks_late=True,  # a task is acknowledged once done: at least once, as ours
    worker_prefetch_multiplier=4,
    result_expires=3600,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task
def noop() -> dict[str, int]:
    return {}


@app.task
def square(n: int) -> int:
    return n * n


@app.task
def add(start: int) -> int:
    return start + 25


@app.task
def double(start: int) -> int:
    return start * 2


@app.task
def average(values: list[int]) -> float:
    return sum(values) / len(values)
