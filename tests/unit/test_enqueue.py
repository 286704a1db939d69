"""Start and every requeue publish the same way: the TaskID on its service's queue, as the
Celery task id, without send_task (which subscribes the sender to each task's result)."""

from collections.abc import Iterator

import pytest
from celery import Celery

from workers.common.domain.services import REGISTRY
from workers.common.runtime import enqueue
from workers.common.runtime.enqueue import Enqueuer, requeue


def _refuse(*args, **kwargs):
    raise AssertionError("send_task / a result subscription: what the Enqueuer exists to avoid")


@pytest.fixture
def app() -> Iterator[Celery]:
    """An app on an in-memory broker whose send_task and result subscription refuse."""
    app = Celery("test-enqueue", broker="memory://", backend="redis://127.0.0.1:1/1")
    app.conf.task_routes = {s.task_name: {"queue": s.queue} for s in REGISTRY.values()}
    app.send_task = _refuse
    app.backend.on_task_call = _refuse
    yield app
    app.close()


def _next_message(app: Celery, queue: str):
    with app.connection_for_write() as connection:
        waiting = connection.SimpleQueue(queue)
        try:
            message = waiting.get(timeout=1)
            message.ack()
            return message
        finally:
            waiting.close()


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_start_puts_the_task_id_on_its_service_queue(app, name):
    service = REGISTRY[name]

    Enqueuer(app)(service, f"task-{name}")

    message = _next_message(app, service.queue)
    assert message.headers["id"] == f"task-{name}"
    assert message.headers["task"] == service.task_name
    assert message.payload[0] == [f"task-{name}"]


def test_a_requeue_publishes_on_the_process_app_as_start_does(app, monkeypatch):
    monkeypatch.setattr(enqueue, "celery_app", lambda: app)
    service = REGISTRY["recorder"]

    requeue(service, "task-again")

    message = _next_message(app, service.queue)
    assert message.headers["id"] == "task-again"
    assert message.headers["task"] == service.task_name
