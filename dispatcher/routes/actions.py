"""POST /v1/panorama, /v1/recorder, /v1/pusher: the seeds' action envelope."""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from dispatcher.body import envelope, json_object
from dispatcher.farm import farm
from dispatcher.responses import json_response, request_id
from workers.common.domain import services

bp = Blueprint("actions", __name__)


def action(service: str) -> Response:
    g.service = service
    body = json_object(request.get_data(cache=True))
    target = services.REGISTRY[service]
    sent = envelope(body, target, flat_start=target.flat_start)
    g.action = sent.action.value
    return json_response(farm().run(service, sent.action, sent.data, request_id()))


for _name in services.REGISTRY:
    bp.add_url_rule(
        f"/v1/{_name}",
        endpoint=_name,
        view_func=action,
        methods=["POST"],
        defaults={"service": _name},
    )
