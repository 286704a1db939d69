"""The Celery app shared by every role: dispatcher (sends), pools (run), beat, Flower.

Long media tasks: ack at start (no visibility-timeout re-runs of a 10-hour recording;
crash recovery is the lease + reconciler's job), prefetch off so nothing waits behind a
running task (a worker takes a message only with a free slot), events on for Flower. The
message carries only the TaskID.

``create_celery(settings)`` builds an app; ``celery_app()`` is the process's one app, built
from ``get_settings()`` on first use, never at import. ``celery -A config.celery`` (the
workers, beat, Flower) finds it as this module's ``app`` (celery.app.utils.find_app looks
for ``app`` first), which is ``celery_app()`` too.
"""

from __future__ import annotations

from functools import lru_cache

from celery import Celery

from config.redis_url import transport_options
from config.settings import Settings, get_settings
from workers.common.domain.services import REGISTRY

RECONCILE_TASK = "capstan.reconcile"
RECONCILER_QUEUE = "reconciler"
# Task modules every worker loads besides each service's own (workers.<name>.tasks).
COMMON_TASK_MODULES = (
    "workers.common.runtime.hooks",
    "workers.common.runtime.drain",
    "workers.common.runtime.slots",
    "workers.common.runtime.reconciler",
)


def create_celery(settings: Settings) -> Celery:
    """A Celery app on the farm's broker, routing each service's task to its queue."""
    # With Sentinel: the master's name and the sentinels' password, for broker and results.
    redis_options = transport_options(
        settings.redis, settings.redis_master_name, settings.redis_sentinel_password
    )
    app = Celery("capstan", broker=settings.broker_url, backend=settings.result_url)
    app.conf.update(
        task_acks_late=False,
        worker_prefetch_multiplier=1,
        # A message acked at start no longer counts against the prefetch limit, so a busy
        # worker reserved one more task than its slots, which waited behind hours-long
        # recordings while another worker sat free (test_admission_slots caught it). This
        # (Redis only) consumes while the worker holds fewer tasks than its pool.
        worker_disable_prefetch=True,
        task_track_started=True,
        worker_send_task_events=True,
        # No task-sent event: it is a second publish per Start (half the dispatcher's cost,
        # bench/dispatcher.py). Queued tasks are listed by GET /v1/tasks and /ui (status
        # "normal"); Flower shows each task from the moment a worker receives it.
        task_send_sent_event=False,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        result_expires=24 * 3600,
        task_ignore_result=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options=redis_options,
        result_backend_transport_options=redis_options,
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        task_routes=task_routes(),
        task_default_queue=RECONCILER_QUEUE,
        beat_schedule={
            "reconcile": {"task": RECONCILE_TASK, "schedule": settings.reconcile_every_s},
        },
        include=task_modules(),
    )
    return app


def task_routes() -> dict[str, dict[str, str]]:
    routes = {service.task_name: {"queue": service.queue} for service in REGISTRY.values()}
    return routes | {RECONCILE_TASK: {"queue": RECONCILER_QUEUE}}


def task_modules() -> list[str]:
    return [*COMMON_TASK_MODULES, *(f"workers.{name}.tasks" for name in REGISTRY)]


@lru_cache(maxsize=1)
def celery_app() -> Celery:
    """This process's Celery app, from its Settings (built once, on first use)."""
    return create_celery(get_settings())


def forget_celery_app() -> None:
    """The next celery_app() is built afresh (a test changed the environment)."""
    if celery_app.cache_info().currsize:
        celery_app().close()
    celery_app.cache_clear()


def __getattr__(name: str) -> Celery:
    # `celery -A config.celery` and `from config.celery import app` get the process's app.
    if name == "app":
        return celery_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
