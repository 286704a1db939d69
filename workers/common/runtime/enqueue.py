"""Put a TaskID on its service's Celery queue. The message carries only the TaskID, which is
also the Celery task id, so Flower shows the farm's ids.

Two ways, one message:

- ``StartMessages``: the dispatcher's Start. It builds the message's bytes
  (workers.common.domain.wire) for the task store, which pushes them in the same atomic
  script that writes the record: one Redis round trip, and no record without its message
  nor message without its record. It refuses an app whose settings would make Celery
  publish something else (another serializer, compression, key prefix...).
- ``Enqueuer``: every requeue (a draining worker's, a hand-back, the reconciler's), whose
  record exists already. This is Celery's own publish path (``app.amqp``: the same message,
  routing, signals and task-sent event as ``app.send_task``) without one side effect of
  ``send_task``: with the Redis result backend, ``send_task`` also subscribes the sending
  process to the task's result channel (``RedisBackend.on_task_call``). Neither the
  dispatcher nor a worker reads those results, so the subscriptions would pile up, one per
  task, on a connection nobody drains.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from celery import Celery
from celery.utils.nodenames import anon_nodename

from config.celery import celery_app
from workers.common.domain.services import Service
from workers.common.domain.wire import Publisher, QueuedMessage, queue_key, task_message

# What the wire format builds; StartMessages refuses an app configured otherwise.
_WIRE_SETTINGS: dict[str, Any] = {
    "task_protocol": 2,
    "task_serializer": "json",
    "task_compression": None,
    "task_send_sent_event": False,
    "task_default_priority": None,
    "task_queue_max_priority": None,
}
_WIRE_TRANSPORTS = ("redis", "rediss", "sentinel")


class StartMessages:
    """``messages(service, task_id)``: the Start's message, for TaskStore.create to push."""

    def __init__(self, app: Celery, broker_db: int) -> None:
        _check_wire_format(app)
        self.app = app
        self.db = broker_db

    def __call__(self, service: Service, task_id: str) -> QueuedMessage:
        publisher = Publisher(origin=_origin(os.getpid()), reply_to=self.app.thread_oid)
        payload = task_message(task_id, service.task_name, service.queue, publisher)
        return QueuedMessage(self.db, queue_key(service.queue), payload)


@functools.lru_cache(maxsize=1)
def _origin(pid: int) -> str:
    """This process's anon_nodename (``gen<pid>@<host>``), computed once per process: it
    cost about 3 % of a Start's CPU in the dispatcher (bench/dispatcher.py, py-spy)."""
    return anon_nodename()


def _check_wire_format(app: Celery) -> None:
    conf = app.conf
    differ = [f"{k}={conf[k]!r}" for k, v in _WIRE_SETTINGS.items() if conf[k] != v]
    options = conf.broker_transport_options or {}
    differ += [
        f"broker_transport_options[{name!r}]={options[name]!r}"
        for name in ("global_keyprefix", "body_encoding")
        if options.get(name) not in (None, "", "base64")
    ]
    transport = app.connection_for_write().transport_cls
    if transport not in _WIRE_TRANSPORTS:
        differ.append(f"broker transport {transport!r}")
    if differ:
        raise ValueError(
            "the Start's message is built for Celery's defaults on a Redis broker; this app "
            f"has {', '.join(differ)}: change workers/common/domain/wire.py with it"
        )


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
