"""The OpenAPI 3.1 document of the dispatcher: its paths written here, every body's schema
generated from the pydantic models that validate the requests (the Start specs, TaskRef)
and build the answers (Describe's Task, dispatcher/answers.py), so the two cannot drift.
tests/unit/test_dispatcher_app.py keeps its paths equal to the app's real routes."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from dispatcher.answers import Accepted, Capacity, Error, Health, PoolCapacity, TaskList
from dispatcher.routes.tasks import DEFAULT_LIMIT, MAX_LIMIT
from workers.common.domain import services
from workers.common.domain.describe import Task
from workers.common.domain.services import Service
from workers.common.domain.specs.control import TaskRef
from workers.common.domain.states import Action, Status

REF = "#/components/schemas/{model}"

# Requests are read leniently (fields beyond a model's are ignored); answers are exactly
# their models (serialization: what dump() writes).
REQUESTS: tuple[type[BaseModel], ...] = (
    TaskRef,
    *(service.spec_model for service in services.REGISTRY.values()),
)
ANSWERS: tuple[type[BaseModel], ...] = (
    Accepted,
    Capacity,
    Error,
    Health,
    PoolCapacity,
    Task,
    TaskList,
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _schemas() -> dict[str, Any]:
    modes: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        *((model, "validation") for model in REQUESTS),
        *((model, "serialization") for model in ANSWERS),
    ]
    _, top = models_json_schema(modes, ref_template=REF)
    return dict(top["$defs"])


def _errors(*statuses: int) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": _ref("Error")}}}
    return {str(s): {"description": "error", **error} for s in statuses}


def _ok(schema: str, description: str = "OK") -> dict[str, Any]:
    return {
        "200": {
            "description": description,
            "content": {"application/json": {"schema": _ref(schema)}},
        }
    }


def _action_operation(service: Service) -> dict[str, Any]:
    name = service.name
    start_model = service.spec_model.__name__
    envelopes: list[dict[str, Any]] = [_envelope([Action.START.value], start_model)]
    controls = [a.value for a in Action if a in service.actions and a is not Action.START]
    envelopes.append(_envelope(controls, "TaskRef"))
    if service.flat_start:
        envelopes.append(_ref(start_model))
    return {
        "post": {
            "operationId": f"{name}Action",
            "summary": f"{name}: {', '.join(a.value for a in Action if a in service.actions)}",
            "description": "The seeds' envelope {Action, Data}"
            + ("; a body without Action is a Start." if service.flat_start else "."),
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"oneOf": envelopes}}},
            },
            "responses": {
                "200": {
                    "description": "Start/Pause/Resume/Refresh/Stop: Accepted; Describe: Task",
                    "content": {
                        "application/json": {"schema": {"oneOf": [_ref("Accepted"), _ref("Task")]}}
                    },
                },
                **_errors(400, 401, 404, 409, 413, 429, 500, 503),
            },
        }
    }


def _envelope(actions: list[str], data_model: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["Action", "Data"],
        "properties": {"Action": {"enum": actions}, "Data": _ref(data_model)},
    }


def _plain(
    operation_id: str, summary: str, content_type: str = "application/json"
) -> dict[str, Any]:
    return _operation(
        operation_id, summary, {"200": {"description": "OK", "content": {content_type: {}}}}
    )


def _operation(operation_id: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"operationId": operation_id, "summary": summary, "responses": responses}}


def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {
        f"/v1/{name}": _action_operation(service) for name, service in services.REGISTRY.items()
    }
    task_id = {
        "name": "TaskID",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }
    paths["/v1/tasks/{TaskID}"] = {
        "get": {
            "operationId": "describeTask",
            "summary": "Describe a task of any service",
            "parameters": [task_id],
            "responses": {**_ok("Task"), **_errors(400, 401, 404, 503)},
        }
    }
    query = [
        {"name": "service", "in": "query", "schema": {"enum": list(services.REGISTRY)}},
        {"name": "status", "in": "query", "schema": {"enum": [s.value for s in Status]}},
        {
            "name": "limit",
            "in": "query",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_LIMIT,
                "default": DEFAULT_LIMIT,
            },
        },
    ]
    paths["/v1/tasks"] = {
        "get": {
            "operationId": "listTasks",
            "summary": "List tasks, newest first",
            "parameters": query,
            "responses": {**_ok("TaskList"), **_errors(400, 401, 503)},
        }
    }
    paths["/healthz"] = _operation("healthz", "Liveness: always 200 {ok: true}", _ok("Health"))
    paths["/readyz"] = _operation(
        "readyz", "Readiness: 200 when Redis answers, else 503", {**_ok("Health"), **_errors(503)}
    )
    paths["/metrics"] = _plain("metrics", "Prometheus metrics", "text/plain")
    paths["/v1/ops/capacity"] = _operation(
        "capacity",
        "Each pool's live workers, slots, busy and free slots, queued and active tasks, and "
        "demand (what KEDA scales on); unsigned, like /metrics",
        {**_ok("Capacity"), **_errors(503)},
    )
    paths["/openapi.json"] = _plain("openapi", "This document")
    paths["/ui"] = {
        "get": {
            "operationId": "taskPageRedirect",
            "summary": "Redirects to /ui/",
            "responses": {"308": {"description": "to /ui/"}},
        }
    }
    paths["/ui/"] = _plain("taskPage", "The task page (HTML)", "text/html")
    paths["/ui/{name}"] = {
        "get": {
            "operationId": "taskPageFile",
            "summary": "The task page's script and style (app.js, style.css)",
            "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {"description": "the file", "content": {"*/*": {}}},
                **_errors(404),
            },
        }
    }
    paths["/files/{path}"] = {
        "get": {
            "operationId": "getFile",
            "summary": "A file of the local output storage (Range requests supported)",
            "parameters": [
                {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {"description": "the file", "content": {"application/octet-stream": {}}},
                "206": {
                    "description": "part of the file",
                    "content": {"application/octet-stream": {}},
                },
                **_errors(404),
            },
        }
    }
    paths["/files/s3/{region}/{bucket}/{key}"] = {
        "get": {
            "operationId": "getS3File",
            "summary": "A file of S3 output (FileURL): a redirect to a fresh presigned URL; "
            "an HLS playlist is served with its segments as such links",
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in ("region", "bucket", "key")
            ]
            + [{"name": "s", "in": "query", "required": True, "schema": {"type": "string"}}],
            "responses": {
                "200": {
                    "description": "an HLS playlist",
                    "content": {"application/vnd.apple.mpegurl": {}},
                },
                "302": {"description": "the presigned URL, in Location"},
                **_errors(404, 503),
            },
        }
    }
    return paths


# Answered by the HTTP server (granian) before the app sees the request: a URI of about 64 KiB.
_URI_TOO_LONG = {"414": {"description": "URI too long (the server's answer, no body)"}}


def _with_server_limits(paths: dict[str, Any]) -> dict[str, Any]:
    for operations in paths.values():
        for operation in operations.values():
            operation["responses"] = {**operation["responses"], **_URI_TOO_LONG}
    return paths


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Capstan dispatcher",
            "version": "1",
            "description": "Recorder, pusher and panorama tasks behind the seeds' action envelope. "
            "When app keys are configured, requests carry X-Capstan-Key, X-Capstan-Date and "
            "X-Capstan-Signature (HMAC-SHA256; see workers/common/domain/signing.py).",
        },
        "paths": _with_server_limits(_paths()),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "CapstanKey": {"type": "apiKey", "in": "header", "name": "X-Capstan-Key"},
                "CapstanSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Capstan-Signature",
                },
            },
        },
    }
