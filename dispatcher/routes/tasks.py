"""GET /v1/tasks/<TaskID> (Describe of any service) and GET /v1/tasks (list)."""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from dispatcher.farm import farm
from dispatcher.responses import json_response, request_id
from workers.common.domain import services
from workers.common.domain.errors import InvalidParam
from workers.common.domain.states import Status

bp = Blueprint("tasks", __name__)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@bp.get("/v1/tasks/<TaskID>")
def describe_task(TaskID: str) -> Response:
    g.action = "Describe"
    return json_response(farm().task(TaskID, request_id()))


@bp.get("/v1/tasks")
def list_tasks() -> Response:
    g.action = "List"
    service, status, limit = _filters()
    return json_response(farm().tasks(service, status, limit, request_id()))


def _filters() -> tuple[str | None, str | None, int]:
    service = request.args.get("service") or None
    if service is not None and service not in services.REGISTRY:
        raise InvalidParam(f"service must be one of {', '.join(sorted(services.REGISTRY))}")
    status = request.args.get("status") or None
    if status is not None and status not in {s.value for s in Status}:
        raise InvalidParam(f"status must be one of {', '.join(s.value for s in Status)}")
    raw = request.args.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidParam(f"limit must be between 1 and {MAX_LIMIT}")
    return service, status, int(raw)
