"""`python -m agentcell.worker --handlers PKG --storage URL`: a worker process that runs
the steps of tasks kept in the storage, until SIGTERM or Ctrl-C (then it lets the steps
it runs finish)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from .client import load_templates
from .handler import HandlerRegistry
from .runner import Worker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agentcell.worker", description=__doc__)
    parser.add_argument(
        "--handlers",
        action="append",
        default=[],
        metavar="PKG",
        help="a package whose handlers to register (repeatable)",
    )
    parser.add_argument(
        "--storage",
        default=None,
        metavar="URL",
        help="sqlite:///file.db, a path, or memory:// (default: the agentcell data file)",
    )
    parser.add_argument(
        "--plugins",
        default=None,
        metavar="FILE",
        help="a plugin config (JSON): each plugin becomes handler plugin:<name>",
    )
    parser.add_argument(
        "--templates",
        default=None,
        metavar="DIR",
        help="a directory of task templates to register (default: TASKER_TEMPLATE_PATH)",
    )
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--prefetch", type=int, default=4, help="steps per thread claimed ahead (1: only what can start)"
    )
    parser.add_argument("--lease", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument("--poll", type=float, default=0.05, metavar="SECONDS")
    parser.add_argument("--worker-id", default=None)
    parser.add_argument(
        "--handlers-only", action="store_true", help="claim only steps whose handler is registered here"
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    registry = HandlerRegistry()
    for package in args.handlers:
        registry.discover_handlers(package)
    worker = Worker(
        registry,
        storage=args.storage,
        worker_id=args.worker_id,
        concurrency=args.concurrency,
        prefetch=args.prefetch,
        lease_seconds=args.lease,
        poll_interval=args.poll,
        handlers_only=args.handlers_only,
        template_path=None,
    )
    if args.plugins:  # key-value grants live in the worker's own storage
        from ..plugins import PluginSet, register_plugins

        register_plugins(PluginSet.from_config(args.plugins, storage=worker.runtime.storage), registry)
    load_templates(worker.runtime, args.templates)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        worker.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(
        f"worker {worker.worker_id} ready: {', '.join(registry.list_handlers()) or 'no handlers'}", flush=True
    )
    worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
