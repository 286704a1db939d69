"""Request signing at the edge (DESIGN section 3, scheme in workers.common.domain.signing).

With ``settings.app_keys`` empty the dispatcher is open (the loopback default; Settings
refuses a non-loopback host without keys). Probes, metrics, files and the task page
are never signed (an S3 file link carries its own signature, ``?s=``)."""

from __future__ import annotations

from flask import request

from dispatcher.farm import farm
from workers.common.domain.signing import verify

UNSIGNED_ENDPOINTS = frozenset(
    {
        "ops.healthz",
        "ops.readyz",
        "ops.prometheus",
        "ops.capacity",
        "files.output_file",
        "files.s3_file",
        "ui.page",
    }
)


def check_signature() -> None:
    settings = farm().settings
    if not settings.app_keys or request.endpoint in UNSIGNED_ENDPOINTS:
        return
    query = request.query_string.decode("latin-1")
    verify(
        request.method,
        request.path + (f"?{query}" if query else ""),
        request.get_data(cache=True),
        request.headers,
        settings.app_keys,
        max_skew_s=settings.signature_max_skew_s,
    )
