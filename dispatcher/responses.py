"""JSON responses and the error body of every failure:
{"ErrorCode", "ErrorMessage", "RequestID"} with the status of errors.HTTP_STATUS."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, current_app, g
from werkzeug.exceptions import HTTPException

from workers.common.domain.errors import HTTP_STATUS, CapstanError, Code

log = logging.getLogger("capstan.dispatcher")

# Errors Flask/werkzeug raise before our code runs (unknown route, wrong method, too big).
_HTTP_CODES = {
    HTTP_STATUS[code]: code
    for code in (Code.NOT_FOUND, Code.METHOD_NOT_ALLOWED, Code.PAYLOAD_TOO_LARGE)
}


def json_response(body: Any, status: int = 200) -> Response:
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return Response(text, status=status, mimetype="application/json")


def error_response(code: str, message: str, status: int) -> Response:
    body = {"ErrorCode": code, "ErrorMessage": message, "RequestID": request_id()}
    return json_response(body, status)


def request_id() -> str:
    return str(g.get("request_id", ""))


def _capstan_error(exc: CapstanError) -> Response:
    if exc.http_status >= 500:
        log.warning("%s: %s", exc.code, exc.message)
    return error_response(exc.code, exc.message, exc.http_status)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = _HTTP_CODES.get(status, Code.INVALID_PARAM if status < 500 else Code.INTERNAL_ERROR)
    message = exc.description or exc.name
    if status == 413:
        message = f"request body larger than {current_app.config['MAX_CONTENT_LENGTH']} bytes"
    return error_response(code, message, status)


def _bug(exc: Exception) -> Response:
    log.exception("unhandled error (request %s)", request_id())
    message = "internal error; the farm's log has the details under this RequestID"
    return error_response(Code.INTERNAL_ERROR, message, HTTP_STATUS[Code.INTERNAL_ERROR])


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(CapstanError, _capstan_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _bug)
