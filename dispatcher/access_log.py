"""The dispatcher's access line, one per request, written by the app (dispatcher/serve.py
turns it on): client, request line without its query, status, bytes, time in the app and the
RequestID, never a body, a query or a signature:

    2026-12-04 07:17:39,128 127.0.0.1 "POST /v1/panorama HTTP/1.1" 200 71 308us rid=c6cb...

Written by the app, not the server, because the RequestID is the app's: a user quotes the
one in their answer, and the operator finds the line.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from flask import Response, g, request

LINE = '%s "%s %s %s" %s %s %dus rid=%s'
logger = logging.getLogger("capstan.dispatcher.access")


def enable() -> None:
    """Access lines to stdout, once per process (a server's process builds one app)."""
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def log(response: Response) -> None:
    if logger.isEnabledFor(logging.INFO):
        logger.info(LINE, *access_fields(response, request.environ, g.get("started")))


def access_fields(response: Any, environ: dict[str, Any], started: float | None) -> tuple[Any, ...]:
    micros = (time.perf_counter() - started) * 1e6 if started is not None else 0
    return (
        environ.get("REMOTE_ADDR", "-"),
        environ.get("REQUEST_METHOD", "-"),
        environ.get("PATH_INFO", "-"),
        environ.get("SERVER_PROTOCOL", "-"),
        response.status_code,
        response.content_length or 0,
        micros,
        response.headers.get("X-Request-Id", "-"),
    )
