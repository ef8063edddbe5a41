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


def _context(claimed: dict[str, Any]) -> StepContext:
    data = json.loads(claimed["context_json"])
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
    )


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
        lease_seconds: float = 30.0,
        poll_interval: float = 0.05,
        handlers_only: bool = False,
        template_path: str | Path | None = None,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= 1000:
            raise InvalidArgumentError(
                f"concurrency: must be 1 to 1000, got {concurrency!r}", field="concurrency"
            )
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
        # Results wait here for the recorder thread, which hands all that have piled
        # up to the engine in one call (one storage commit).
        self._finished: queue.Queue[tuple[dict[str, Any], str, bool] | None] = queue.Queue()
        self._recorder: threading.Thread | None = None
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
        for target, name in ((self._claim_loop, "claims"), (self._renew_loop, "leases")):
            thread = threading.Thread(target=target, name=f"agentcell-worker-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._recorder = threading.Thread(
            target=self._record_loop, name="agentcell-worker-results", daemon=True
        )
        self._recorder.start()
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
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
        self._threads.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._recorder is not None:  # after the pool: every result is queued
            self._finished.put(None)
            self._recorder.join(timeout)
            self._recorder = None
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

    def _claim_loop(self) -> None:
        handlers = self.registry.list_handlers() if self.handlers_only else []
        while not self._stopping.is_set():
            with self._guard:
                free = self.concurrency - len(self._running)
            claimed: list[Any] = []
            if free > 0:
                try:
                    claimed = self._wf.claim(self.worker_id, handlers, free, self.lease_ms)
                except AgentcellError as e:  # storage down: keep trying, slowly
                    log.warning("claim failed: %s", e)
                    self._stopping.wait(self.poll_interval)
                    continue
            for step in claimed:
                with self._guard:
                    self._running[(step["task_uuid"], step["step_uuid"])] = step["attempt"]
                assert self._pool is not None
                self._pool.submit(self._run_step, step)
            if claimed and len(claimed) == free:
                self._wake.wait(self.poll_interval)  # full: a finishing step wakes us
            elif not claimed:
                self._wake.wait(self._idle_wait())
            self._wake.clear()

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
            context = _context(claimed)
            handler = self.registry.resolve(claimed["handler"])
            started = time.perf_counter()
            if handler is None:
                result = StepHandlerResult.failure(
                    f"Handler not found: {claimed['handler']}", "handler_not_found", retryable=False
                )
            else:
                result = run_step(handler, context)
            elapsed = int((time.perf_counter() - started) * 1000)
            self._finished.put((claimed, _result_json(result, elapsed), result.is_success))
        except Exception:  # a worker thread must never die silently
            log.exception(
                "step %s of task %s could not be run", claimed.get("name"), claimed.get("task_uuid")
            )
            self._release([claimed])

    def _record_loop(self) -> None:
        while True:
            first = self._finished.get()
            batch = [] if first is None else [first]
            last = first is None
            while len(batch) < 256:
                try:
                    item = self._finished.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    last = True
                else:
                    batch.append(item)
            if batch:
                self._record(batch)
            if last:
                return

    def _record(self, batch: list[tuple[dict[str, Any], str, bool]]) -> None:
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
        try:
            outcomes = self._wf.complete_many(results)
        except AgentcellError as e:  # the leases run out and the steps run again
            log.warning("recording %d results failed: %s", len(batch), e)
            self._release([c for c, _, _ in batch])
            return
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
        self._release([c for c, _, _ in batch])

    def _release(self, steps: list[dict[str, Any]]) -> None:
        with self._guard:
            for claimed in steps:
                self._running.pop((claimed["task_uuid"], claimed["step_uuid"]), None)
        self._wake.set()
