"""Prometheus metrics: requests by service, action and HTTP code, and their latency.

The server runs the app in several processes: dispatcher/serve.py points prometheus_client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR, read by the library at import) at a fresh
directory under settings.data_dir, and /metrics adds up the files of all of them."""

from __future__ import annotations

import functools
import os
import time
from typing import Any

from flask import Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from dispatcher.serve import MULTIPROC_ENV

REQUESTS = Counter(
    "capstan_dispatcher_requests",
    "Requests answered by the dispatcher",
    ["service", "action", "code"],
)
LATENCY = Histogram(
    "capstan_dispatcher_request_seconds",
    "Time to answer a request",
    ["service", "action"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
_ACTIONS = frozenset(
    {"Start", "Pause", "Resume", "Refresh", "Stop", "Describe", "List", "files", "other"}
)


def started() -> None:
    g.started = time.perf_counter()


def finished(response: Response) -> Response:
    if request.endpoint in ("ops.prometheus", "ops.healthz", "ops.readyz"):
        return response
    service = str(g.get("service", "-"))
    action = str(g.get("action", "files" if request.path.startswith("/files/") else "other"))
    if action not in _ACTIONS:
        action = "other"
    _requests(service, action, response.status_code).inc()
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    _latency(service, action).observe(elapsed)
    return response


# Each label set's child, found once: ``labels()`` checks and locks on every call. The
# sets are few (services x actions x status codes), so the caches stay small.
@functools.cache
def _requests(service: str, action: str, status: int) -> Any:
    return REQUESTS.labels(service, action, str(status))


@functools.cache
def _latency(service: str, action: str) -> Any:
    return LATENCY.labels(service, action)


def exposition() -> tuple[bytes, str]:
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
