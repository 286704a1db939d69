"""gunicorn settings for the dispatcher, from the one Settings object.

    gunicorn -c dispatcher/gunicorn_conf.py 'dispatcher.app:create_app()'

Sized for a small (2-core) machine: a request is 0.5-1.2 ms of Python and one or two Redis
round trips; cores + 1 processes with 2 threads each keep both cores busy while a thread
waits on Redis (measured with bench/dispatcher.py: more threads only add GIL contention
and tail latency). CAPSTAN_* settings choose the address; GUNICORN_CMD_ARGS (gunicorn's
own) can still override workers/threads for bigger machines.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from config.settings import get_settings

_settings = get_settings()
_cores = os.cpu_count() or 2

bind = f"{_settings.host}:{_settings.port}"
workers = _cores + 1
worker_class = "dispatcher.fair_worker.FairThreadWorker"  # gthread that spreads connections
threads = 2
keepalive = 30
timeout = 30
graceful_timeout = 20
max_requests = 200_000
max_requests_jitter = 10_000
# Request line, status, size, time (us) and the RequestID; never bodies or signatures
# (dispatcher/access_log.py: gunicorn's own access log costs a tenth of a Describe).
accesslog = "-"
logger_class = "dispatcher.access_log.AccessLogger"
errorlog = "-"
proxy_allow_ips = "127.0.0.1"

# prometheus_client multiprocess mode: one directory of metric files for all workers,
# emptied when the master starts (read by the library when it is imported).
_metrics_dir = _settings.data_dir / "prometheus"
raw_env = [f"PROMETHEUS_MULTIPROC_DIR={_metrics_dir.resolve()}"]


def on_starting(server: Any) -> None:
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    _metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir.resolve())


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
