"""The Celery app shared by every role: dispatcher (sends), pools (run), beat, Flower.

Long media tasks: ack at start (no visibility-timeout re-runs of a 10-hour recording;
crash recovery is the lease + reconciler's job), prefetch off so nothing waits behind a
running task, events on for Flower. The message carries only the TaskID.
"""

from __future__ import annotations

from celery import Celery

from config.redis_url import transport_options
from config.settings import SERVICES, get_settings

settings = get_settings()
# With Sentinel: the master's name and the sentinels' password, for broker and results.
redis_options = transport_options(
    settings.redis, settings.redis_master_name, settings.redis_sentinel_password
)

app = Celery("capstan", broker=settings.broker_url, backend=settings.result_url)
app.conf.update(
    task_acks_late=False,
    worker_prefetch_multiplier=1,
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
    task_routes={f"capstan.{name}.*": {"queue": name} for name in SERVICES}
    | {"capstan.reconcile": {"queue": "reconciler"}},
    task_default_queue="reconciler",
    beat_schedule={
        "reconcile": {"task": "capstan.reconcile", "schedule": settings.reconcile_every_s},
    },
    include=[
        "workers.common.hooks",
        "workers.common.drain",
        "workers.common.reconciler",
        "workers.recorder.tasks",
        "workers.pusher.tasks",
        "workers.panorama.tasks",
    ],
)
