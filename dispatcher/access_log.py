"""gunicorn's logger with a lean access line (dispatcher/gunicorn_conf.py's logger_class).

One line per request: client, request line, status, bytes sent, time taken and the
RequestID, never a body or a signature:

    127.0.0.1 "POST /v1/panorama HTTP/1.1" 200 71 812us rid=5f0c...

gunicorn's own ``access`` builds, for every request, a dict of every environ variable
and every request and response header and a strftime date before formatting a few of
them: about a tenth of a Describe's CPU in the dispatcher (bench/dispatcher.py). This
formats the same fields directly.
"""

from __future__ import annotations

import datetime
from typing import Any

from gunicorn.glogging import Logger

LINE = '%s "%s %s %s" %s %s %dus rid=%s'


class AccessLogger(Logger):
    def access(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: datetime.timedelta
    ) -> None:
        if not self.access_log_enabled:
            return
        self.access_log.info(LINE, *access_fields(resp, environ, request_time))


def access_fields(
    resp: Any, environ: dict[str, Any], request_time: datetime.timedelta
) -> tuple[Any, ...]:
    status = str(resp.status).split(None, 1)[0]
    rid = next((v for k, v in resp.headers if k.lower() == "x-request-id"), "-")
    micros = request_time.seconds * 1_000_000 + request_time.microseconds
    return (
        environ.get("REMOTE_ADDR", "-"),
        environ.get("REQUEST_METHOD", "-"),
        environ.get("RAW_URI", environ.get("PATH_INFO", "-")),
        environ.get("SERVER_PROTOCOL", "-"),
        status,
        getattr(resp, "sent", None) or 0,
        micros,
        rid,
    )
