"""The dispatcher: a Flask app that validates the seeds' JSON actions and queues TaskIDs.

Served by granian: ``python -m dispatcher.serve`` (dispatcher/serve.py).
"""

from __future__ import annotations

import uuid

from flask import Flask, Response, g
from werkzeug.middleware.proxy_fix import ProxyFix

from config.celery import celery_app
from config.settings import Settings, get_settings
from dispatcher import access_log, auth, metrics
from dispatcher.actions import Farm, StartMessage
from dispatcher.files import bp as files_bp
from dispatcher.responses import register_error_handlers
from dispatcher.routes.actions import bp as actions_bp
from dispatcher.routes.ops import bp as ops_bp
from dispatcher.routes.tasks import bp as tasks_bp
from dispatcher.ui_routes import bp as ui_bp
from workers.common.domain.redis_client import QUICK_RETRIES, redis_for
from workers.common.domain.store import TaskStore
from workers.common.runtime.enqueue import StartMessages


def create_app(
    settings: Settings | None = None,
    store: TaskStore | None = None,
    message: StartMessage | None = None,
) -> Flask:
    settings = settings or get_settings()
    if store is None:
        # 503 within about a second, never a hang.
        store = TaskStore(redis_for(settings, settings.store_db, QUICK_RETRIES))
    if message is None:
        message = StartMessages(celery_app(), settings.broker_db)
    app = Flask("capstan.dispatcher")
    if settings.forwarded_hops:
        hops = settings.forwarded_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["capstan"] = Farm(settings, store, message)
    # One hook each way: Flask pays a lookup and a coroutine check per hook and request.
    app.before_request(_before)
    app.after_request(_after)
    register_error_handlers(app)
    for blueprint in (actions_bp, tasks_bp, ops_bp, files_bp, ui_bp):
        app.register_blueprint(blueprint)
    return app


def _before() -> None:
    g.request_id = uuid.uuid4().hex
    metrics.started()
    auth.check_signature()


def _after(response: Response) -> Response:
    metrics.finished(response)
    rid = g.get("request_id") or uuid.uuid4().hex
    response.headers["X-Request-Id"] = rid
    response.headers["x-scf-reqid"] = rid
    access_log.log(response)
    return response
