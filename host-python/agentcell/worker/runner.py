"""`Worker`: claims due steps from the engine, runs their handlers on a pool of threads,
keeps their leases alive while they run, and records each result.

    with Worker.start(handler_packages=["my_handlers"], storage="sqlite:///tasks.db"):
        ...                                   # steps run in the background

Several workers (threads, processes, machines sharing the storage) can serve the same
tasks: each claim is a compare-and-set in the engine, a step whose worker died is
claimed again when its lease ends, and a result from a worker that lost its lease is
rejected, so each step's result is recorded once.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

from .._wasm import Runtime
from .._wit import WorkflowsStepResult
from ..errors import AgentcellError, InvalidArgumentError
from ._deadlines import Deadlines
from ._storage_url import open_runtime
from .client import load_templates
from .handler import HandlerRegistry, run_step
from .types import ErrorType, StepContext, StepHandlerResult

__all__ = ["Worker", "WorkerMetrics"]

log = logging.getLogger("agentcell.worker")


@dataclass
class WorkerMetrics:
    """What a worker did since it started."""

    steps_processed: int = 0
    steps_succeeded: int = 0
    steps_failed: int = 0
    steps_in_progress: int = 0
    results_rejected: int = 0
    leases_lost: int = 0


def _context(claimed: dict[str, Any]) -> tuple[StepContext, float | None]:
    """The handler's context, and the run's time limit in seconds (None: none)."""
    data = json.loads(claimed["context_json"])
    timeout = data.get("timeout_seconds")
    return StepContext(
        task_uuid=uuid.UUID(data["task_uuid"]),
        step_uuid=uuid.UUID(data["step_uuid"]),
        correlation_id=uuid.UUID(data["correlation_id"]),
        handler_name=data["handler_name"],
        step_name=data["step_name"],
        input_data=data["input_data"],
        dependency_results=data["dependency_results"],
        step_config=data["step_config"],
        step_inputs=data["step_inputs"],
        retry_count=data["retry_count"],
        max_retries=data["max_retries"],
    ), (float(timeout) if timeout is not None else None)


def _result_json(result: StepHandlerResult, elapsed_ms: int) -> str:
    payload = {**result.to_dict(), "execution_time_ms": elapsed_ms}
    try:
        return json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as e:
        failure = StepHandlerResult.failure(
            f"the handler's result is not JSON: {e}", ErrorType.PERMANENT_ERROR, retryable=False
        )
        return json.dumps({**failure.to_dict(), "execution_time_ms": elapsed_ms})


class Worker:
    """Runs the steps of tasks kept in `storage` with the handlers in `registry`.

    Args:
        registry: the handlers (default: the process-wide `HandlerRegistry.instance()`).
        storage: a storage URL or path (see `agentcell.worker`); `None`: the default file.
        runtime: an existing runtime to use instead of opening `storage`.
        worker_id: how this worker appears in leases and audit entries.
        concurrency: steps run at once, on this many threads.
        prefetch: how many steps per thread a worker holds claimed ahead (as Celery's
            prefetch multiplier): up to `concurrency * prefetch` are claimed in one call,
            so steps queue locally instead of each needing a storage commit of its own.
            Their leases are renewed while they wait. 1: claim only what can start now.
        lease_seconds: how long a claim holds without renewal; renewed every third of it
            while the handler runs. A step whose worker died waits this long.
        poll_interval: the longest an idle worker sleeps before looking again.
        handlers_only: claim only steps whose handler is registered here (for fleets
            where workers serve different handlers). By default, as upstream, a worker
            takes any step and fails one whose handler it lacks (`handler_not_found`).
        template_path: a directory of templates to register (default `TASKER_TEMPLATE_PATH`).
    """

    _instance: ClassVar[Worker | None] = None

    def __init__(
        self,
        registry: HandlerRegistry | None = None,
        *,
        storage: str | Path | None = None,
        runtime: Runtime | None = None,
        worker_id: str | None = None,
        concurrency: int = 4,
        prefetch: int = 4,
        lease_seconds: float = 30.0,
        poll_interval: float = 0.05,
        handlers_only: bool = False,
        template_path: str | Path | None = None,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= 1000:
            raise InvalidArgumentError(
                f"concurrency: must be 1 to 1000, got {concurrency!r}", field="concurrency"
            )
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) or not 1 <= prefetch <= 100:
            raise InvalidArgumentError(f"prefetch: must be 1 to 100, got {prefetch!r}", field="prefetch")
        if not 0.1 <= lease_seconds <= 86_400:
            raise InvalidArgumentError(f"lease_seconds: must be 0.1 to 86400, got {lease_seconds!r}")
        if not 0.001 <= poll_interval <= 60:
            raise InvalidArgumentError(f"poll_interval: must be 0.001 to 60, got {poll_interval!r}")
        self.registry = registry if registry is not None else HandlerRegistry.instance()
        self._owns_runtime = runtime is None
        self.runtime = runtime or open_runtime(storage)
        self._wf = self.runtime.exports.workflows
        load_templates(self.runtime, template_path)
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.concurrency = concurrency
        self.prefetch = prefetch
        self.lease_ms = int(lease_seconds * 1000)
        self.poll_interval = poll_interval
        self.handlers_only = handlers_only
        self.metrics = WorkerMetrics()
        self._running: dict[tuple[str, str], int] = {}  # (task, step) -> attempt
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pool: ThreadPoolExecutor | None = None
        # Results wait here for the turn thread, which hands all that have piled up to
        # the engine with its next claim, in one call (one storage commit).
        self._finished: queue.Queue[tuple[dict[str, Any], str, bool]] = queue.Queue()
        self._deadlines = Deadlines()
        self._started = False

    # --- lifecycle

    @classmethod
    def start(
        cls, handler_packages: list[str] | None = None, config: dict[str, Any] | None = None, **options: Any
    ) -> Worker:
        """The process's worker, started (a second call returns the running one, as
        upstream's does): handlers discovered in `handler_packages`, options from
        `config` and keywords (those of `Worker(...)`)."""
        if cls._instance is not None and cls._instance.is_running:
            return cls._instance
        registry = options.pop("registry", None) or HandlerRegistry.instance()
        for package in handler_packages or []:
            registry.discover_handlers(package)
        worker = cls(registry, **{**(config or {}), **options})
        worker.run_in_background()
        cls._instance = worker
        return worker

    def run_in_background(self) -> Worker:
        """Starts claiming and running steps on background threads; returns self."""
        if self._started:
            return self
        self._started = True
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="agentcell-step")
        for target, name in ((self._turn_loop, "turns"), (self._renew_loop, "leases")):
            thread = threading.Thread(target=target, name=f"agentcell-worker-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("worker %s started (%d at once)", self.worker_id, self.concurrency)
        return self

    def run(self) -> None:
        """Runs in the foreground until `stop()` (from another thread or a signal)."""
        self.run_in_background()
        while not self._stopping.wait(0.5):
            pass
        self._shut_down()

    def request_stop(self) -> None:
        """Asks `run()` to return once running steps finish (safe in a signal handler)."""
        self._stopping.set()
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stops claiming, lets running steps finish (up to `timeout` seconds), and
        closes the storage it opened. Stopping twice is harmless."""
        self._stopping.set()
        self._wake.set()
        self._shut_down(timeout)

    def _shut_down(self, timeout: float = 30.0) -> None:
        # The turn thread returns once every step claimed has run and been recorded.
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
        self._threads.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if type(self)._instance is self:
            type(self)._instance = None
        if self._owns_runtime and self._started:
            self.runtime.close()
        self._started = False

    @property
    def is_running(self) -> bool:
        """True between start and stop."""
        return self._started and not self._stopping.is_set()

    def get_metrics(self) -> dict[str, int]:
        """`steps_processed`, `steps_succeeded`, `steps_failed`, `steps_in_progress`,
        `results_rejected`, `leases_lost`."""
        with self._guard:
            return {**asdict(self.metrics), "steps_in_progress": len(self._running)}

    def __enter__(self) -> Worker:
        return self.run_in_background()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- the loops

    def _turn_loop(self) -> None:
        """Each turn hands the results finished since the last one to the engine and
        claims what the free places allow, in one call. Once stopping, it claims no
        more and returns when every claimed step has been recorded."""
        handlers = self.registry.list_handlers() if self.handlers_only else []
        while True:
            self._wake.clear()  # before taking results: one finishing later wakes us
            for claimed_step, timeout_json in self._deadlines.expire(time.monotonic()):
                log.warning("step %s ran out of time", claimed_step["name"])
                self._finished.put((claimed_step, timeout_json, False))
            batch = self._take_finished()
            stopping = self._stopping.is_set()
            with self._guard:
                held = len(self._running)
            if stopping and not batch and not held:
                return
            free = 0 if stopping else self.concurrency * self.prefetch - held + len(batch)
            claimed: list[Any] = []
            if batch or free > 0:
                try:
                    claimed = self._turn(batch, handlers, free)
                except AgentcellError as e:  # storage down: the leases run out, steps rerun
                    log.warning("a worker turn (%d results) failed: %s", len(batch), e)
                    self._release([c for c, _, _ in batch])
                    self._stopping.wait(self.poll_interval)
                    continue
            if stopping or (claimed and len(claimed) == free):
                self._wake.wait(self._bounded(self.poll_interval))  # a finishing step wakes us
            elif not claimed and not batch:
                self._wake.wait(self._bounded(self._idle_wait()))

    def _bounded(self, wait: float) -> float:
        """`wait`, cut short to when the next running step's time limit runs out."""
        due = self._deadlines.next_in(time.monotonic())
        return wait if due is None else min(wait, due)

    def _take_finished(self) -> list[tuple[dict[str, Any], str, bool]]:
        batch: list[tuple[dict[str, Any], str, bool]] = []
        while len(batch) < 256:
            try:
                batch.append(self._finished.get_nowait())
            except queue.Empty:
                break
        return batch

    def _turn(
        self, batch: list[tuple[dict[str, Any], str, bool]], handlers: list[str], free: int
    ) -> list[dict[str, Any]]:
        results: list[WorkflowsStepResult] = [
            {
                "task_uuid": c["task_uuid"],
                "step_uuid": c["step_uuid"],
                "worker_id": self.worker_id,
                "attempt": c["attempt"],
                "result_json": text,
            }
            for c, text, _ in batch
        ]
        out = self._wf.exchange(results, self.worker_id, handlers, max(free, 0), self.lease_ms)
        self._account(batch, out["completions"])
        self._release([c for c, _, _ in batch])
        claimed: list[dict[str, Any]] = [dict(step) for step in out["claimed"]]
        with self._guard:
            for step in claimed:
                self._running[(step["task_uuid"], step["step_uuid"])] = step["attempt"]
        assert self._pool is not None
        for step in claimed:
            self._pool.submit(self._run_step, step)
        return claimed

    def _idle_wait(self) -> float:
        try:
            due_ms = self._wf.next_due_in()
        except AgentcellError:
            return self.poll_interval
        if due_ms is None:
            return self.poll_interval
        # Something is due now that another worker took or this one may not run: a
        # short pause, not a spin.
        return min(self.poll_interval, max(due_ms / 1000, 0.002))

    def _renew_loop(self) -> None:
        every = self.lease_ms / 3000
        while not self._stopping.wait(every):
            with self._guard:
                running = list(self._running.items())
            for (task, step), attempt in running:
                try:
                    held = self._wf.renew(task, step, self.worker_id, attempt, self.lease_ms)
                except AgentcellError as e:
                    log.warning("renewing the lease of step %s failed: %s", step, e)
                    continue
                if not held:
                    with self._guard:
                        self.metrics.leases_lost += 1
                    log.warning("worker %s lost the lease of step %s", self.worker_id, step)

    def _run_step(self, claimed: dict[str, Any]) -> None:
        try:
            context, timeout = _context(claimed)
            handler = self.registry.resolve(claimed["handler"])
            started = time.perf_counter()
            self._deadlines.start(claimed, timeout, time.monotonic())
            if handler is None:
                result = StepHandlerResult.failure(
                    f"Handler not found: {claimed['handler']}", "handler_not_found", retryable=False
                )
            else:
                result = run_step(handler, context)
            elapsed = int((time.perf_counter() - started) * 1000)
            if not self._deadlines.finish(claimed):
                log.warning("step %s returned after its time limit: result dropped", claimed["name"])
                return
            self._finished.put((claimed, _result_json(result, elapsed), result.is_success))
            self._wake.set()
        except Exception:  # a worker thread must never die silently
            log.exception(
                "step %s of task %s could not be run", claimed.get("name"), claimed.get("task_uuid")
            )
            if self._deadlines.finish(claimed):  # else its timeout result releases it
                self._release([claimed])

    def _account(self, batch: list[tuple[dict[str, Any], str, bool]], outcomes: list[Any]) -> None:
        with self._guard:
            for (claimed, _, success), outcome in zip(batch, outcomes, strict=True):
                if outcome[0] == "rejected":
                    self.metrics.results_rejected += 1
                    log.warning("result of step %s rejected: %s", claimed["name"], outcome[1])
                else:
                    self.metrics.steps_processed += 1
                    if success:
                        self.metrics.steps_succeeded += 1
                    else:
                        self.metrics.steps_failed += 1

    def _release(self, steps: list[dict[str, Any]]) -> None:
        with self._guard:
            for claimed in steps:
                self._running.pop((claimed["task_uuid"], claimed["step_uuid"]), None)
        self._wake.set()
