"""The dispatcher's HTTP server: granian, its HTTP/1.1 in Rust, the Flask app in threads.

    python -m dispatcher.serve [--host H] [--port P] [--workers N] [--threads N]

Address and sizing come from Settings (CAPSTAN_HOST, CAPSTAN_PORT, CAPSTAN_DISPATCHER_WORKERS,
CAPSTAN_DISPATCHER_THREADS); the flags win over them. Why granian and not gunicorn's threaded
worker: a Start cost 780-810 us of the dispatcher's CPU under gunicorn 27 and 520-560 us under
granian, the same app on the same machine (bench/dispatcher.py), because parsing HTTP and
handing each request to a thread were about a quarter of it in Python. granian's workers also share
the connections a client opens at once by themselves (tests/integration/
test_dispatcher_processes.py), which gunicorn needed dispatcher/fair_worker.py for.

On SIGTERM granian stops taking connections, lets the requests under way finish (up to
``KILL_TIMEOUT_S``) and exits; a worker that dies is started again.
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Sequence

from flask import Flask

from config.settings import get_settings
from dispatcher import access_log

TARGET = "dispatcher.serve:served_app"
KILL_TIMEOUT_S = 20
# Read by prometheus_client when a process first imports it: the server's processes are
# forks of this one, so this process must not import it (dispatcher.metrics) before it is set.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def served_app() -> Flask:
    """The app as each server process builds it: with the access line."""
    from dispatcher.app import create_app

    access_log.enable()
    return create_app()


def workers_for(configured: int) -> int:
    """0 (the default) is one process per core: a process runs Python on one core at a time."""
    return configured or os.cpu_count() or 1


def fresh_metrics_dir() -> str:
    """prometheus_client's multiprocess mode: one directory of metric files for all the
    server's processes, emptied at start (read by the library when a process imports it)."""
    directory = (get_settings().data_dir / "prometheus").resolve()
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    return str(directory)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--workers", type=int, default=settings.dispatcher_workers,
                        help="processes (0: one per core)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=settings.dispatcher_threads,
                        help="threads per process running the app")  # fmt: skip
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces

    args = parse(argv)
    os.environ[MULTIPROC_ENV] = fresh_metrics_dir()  # before any worker starts
    Granian(
        TARGET,
        address=args.host,
        port=args.port,
        interface=Interfaces.WSGI,
        factory=True,
        workers=workers_for(args.workers),
        blocking_threads=args.threads,
        http=HTTPModes.http1,
        websockets=False,
        respawn_failed_workers=True,
        workers_kill_timeout=KILL_TIMEOUT_S,
    ).serve()


if __name__ == "__main__":
    main()
