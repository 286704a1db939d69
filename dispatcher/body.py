"""The request body: JSON object, and the seeds' action envelope {"Action", "Data"}."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from workers.common.domain.errors import InvalidParam
from workers.common.domain.services import Service
from workers.common.domain.states import Action


@dataclass(frozen=True)
class Envelope:
    action: Action
    data: dict[str, Any]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; InvalidParam for anything else."""
    if not raw.strip():
        raise InvalidParam("request body missing: send a JSON object")
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidParam(f"request body is not valid JSON ({_short(exc)})") from None
    if not isinstance(body, dict):
        raise InvalidParam(f"request body must be a JSON object, not {_json_type(body)}")
    return body


def envelope(body: dict[str, Any], service: Service, flat_start: bool) -> Envelope:
    """The action and its Data; a body without "Action" is a flat Start when allowed."""
    if "Action" not in body:
        if flat_start:
            return Envelope(Action.START, body)
        raise InvalidParam(f"Action missing: one of {', '.join(_allowed(service))}")
    name = body["Action"]
    if not isinstance(name, str) or name not in service.actions:
        shown = name if isinstance(name, str) else _json_type(name)
        raise InvalidParam(
            f"Action {shown[:40]!r} is not one of {', '.join(_allowed(service))} for {service.name}"
        )
    if "Data" not in body or body["Data"] is None:
        raise InvalidParam("Data missing")
    data = body["Data"]
    if not isinstance(data, dict):
        raise InvalidParam(f"Data must be an object, not {_json_type(data)}")
    return Envelope(Action(name), data)


def _allowed(service: Service) -> list[str]:
    return [a.value for a in Action if a in service.actions]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _short(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc).splitlines()[0][:120]
