"""GET /healthz, /readyz, /metrics, /openapi.json, /v1/ops/capacity."""

from __future__ import annotations

from flask import Blueprint, Response

from dispatcher import metrics, openapi
from dispatcher.answers import Health
from dispatcher.farm import farm
from dispatcher.responses import error_response, json_response
from workers.common.domain.errors import HTTP_STATUS, Code

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return json_response(Health(ok=True).dump())


@bp.get("/readyz")
def readyz() -> Response:
    if not farm().store.ping():
        return error_response(
            Code.SERVICE_UNAVAILABLE, "Redis does not answer", HTTP_STATUS[Code.SERVICE_UNAVAILABLE]
        )
    return json_response(Health(ok=True).dump())


@bp.get("/metrics")
def prometheus() -> Response:
    text, content_type = metrics.exposition()
    return Response(text, content_type=content_type)


@bp.get("/v1/ops/capacity")
def capacity() -> Response:
    # Unsigned, like /metrics: KEDA's metrics-api scaler reads it (counts, no task data).
    return json_response(farm().capacity())


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return json_response(openapi.document())
