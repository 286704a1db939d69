"""Put a TaskID on its service's Celery queue: the dispatcher's Start and every requeue
(a draining worker's, a hand-back, the reconciler's). The message carries only the TaskID.

This is Celery's own publish path (``app.amqp``: the same message, routing, signals and
task-sent event as ``app.send_task``) without one side effect of ``send_task``: with the
Redis result backend, ``send_task`` also subscribes the sending process to the task's
result channel (``RedisBackend.on_task_call``). Neither the dispatcher nor a worker reads
those results, so the subscriptions would pile up, one per task, on a connection nobody
drains. The Celery task id is the TaskID, so Flower shows the farm's ids.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from config.celery import celery_app
from workers.common.domain.services import Service


class Enqueuer:
    def __init__(self, app: Celery) -> None:
        self.app = app
        self._send = app.amqp.send_task_message

    def __call__(self, service: Service, task_id: str) -> None:
        app, name = self.app, service.task_name
        options: dict[str, Any] = app.amqp.router.route(
            {"queue": service.queue}, name, [task_id], {}
        )
        message = app.amqp.create_task_message(
            task_id,
            name,
            [task_id],
            {},
            reply_to=app.thread_oid,
            create_sent_event=app.conf.task_send_sent_event,
        )
        with app.producer_or_acquire() as producer:
            self._send(producer, name, message, **options)


def requeue(service: Service, task_id: str) -> None:
    """Queue ``task_id`` again on this process's app (a worker's or the reconciler's)."""
    Enqueuer(celery_app())(service, task_id)
