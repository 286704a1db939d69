"""The Start's message, built without kombu, is byte for byte what kombu's Redis transport
would store for the same task: the same JSON on the same list. (That a real worker runs it:
tests/integration/test_atomic_start.py.)"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from kombu.transport import memory
from kombu.transport import redis as kombu_redis

from config.celery import create_celery
from config.settings import Settings
from workers.common.domain.services import REGISTRY
from workers.common.domain.wire import Publisher, queue_key, task_message
from workers.common.runtime.enqueue import Enqueuer, StartMessages


@pytest.fixture
def farm_app() -> Iterator[Celery]:
    """The farm's own Celery app (its routes, serializer, options), on Redis."""
    app = create_celery(Settings(redis_url="redis://127.0.0.1:1"))
    yield app
    app.close()


@pytest.fixture
def published(farm_app, monkeypatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """What kombu hands its transport's _put (the queue and the message dict, which the
    Redis transport LPUSHes as kombu's JSON), on an in-memory broker with the farm's app."""
    seen: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(memory.Channel, "_put", lambda self, queue, message, **kw: seen.append(
        (queue, json.loads(json.dumps(message)))
    ))  # fmt: skip
    farm_app.conf.broker_url = "memory://"
    yield seen


def kombu_bytes(message: dict[str, Any]) -> str:
    return str(kombu_redis.dumps(message))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_the_start_message_is_kombus_own_for_the_same_task(farm_app, published, name):
    # Given a task published the way Celery publishes it (the farm's requeue path)
    service, task_id = REGISTRY[name], "0b7f6a52-3c1e-4d55-9a8e-2f1d6c0e9b31"
    Enqueuer(farm_app)(service, task_id)
    [(queue, theirs)] = published
    props, headers = theirs["properties"], theirs["headers"]

    # When the wire format builds it for the same task, publisher and delivery tag
    publisher = Publisher(origin=headers["origin"], reply_to=props["reply_to"])
    mine = task_message(task_id, service.task_name, service.queue, publisher, props["delivery_tag"])

    # Then the bytes are kombu's, on the list kombu's Redis transport pushes to
    assert mine == kombu_bytes(theirs)
    assert queue == service.queue
    assert queue_key(service.queue) == service.queue


def test_the_message_carries_the_task_id_as_argument_and_celery_id():
    built = task_message("t-1", "capstan.recorder.run", "recorder", Publisher("o", "r"))
    message = json.loads(built)

    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert (args, kwargs) == (["t-1"], {})
    assert message["headers"]["id"] == message["properties"]["correlation_id"] == "t-1"
    assert message["properties"]["delivery_info"]["routing_key"] == "recorder"


def test_every_message_has_its_own_delivery_tag():
    one, two = (
        json.loads(task_message("t", "n", "q", Publisher("o", "r")))["properties"]["delivery_tag"]
        for _ in range(2)
    )
    assert one != two


class KombuKeys:
    """kombu's Redis channel's own queue-key rule, on its own constants."""

    sep = kombu_redis.Channel.sep
    priority_steps = kombu_redis.Channel.priority_steps
    priority = kombu_redis.Channel.priority
    _q_for_pri = kombu_redis.Channel._q_for_pri


@pytest.mark.parametrize("priority", range(12))
def test_a_priority_picks_the_list_kombu_picks(priority):
    assert queue_key("panorama", priority) == KombuKeys()._q_for_pri("panorama", priority)


def test_start_messages_go_to_the_broker_db_on_the_service_queue(farm_app):
    messages = StartMessages(farm_app, broker_db=5)

    message = messages(REGISTRY["panorama"], "t-9")

    assert (message.db, message.key) == (5, "panorama")
    headers = json.loads(message.payload)["headers"]
    assert headers["task"] == REGISTRY["panorama"].task_name
    assert headers["origin"].startswith("gen")


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("task_serializer", "pickle", "task_serializer='pickle'"),
        ("task_compression", "gzip", "task_compression='gzip'"),
        ("task_send_sent_event", True, "task_send_sent_event=True"),
        ("broker_transport_options", {"global_keyprefix": "x:"}, "global_keyprefix"),
        ("broker_url", "memory://", "broker transport 'memory'"),
    ],
)
def test_an_app_the_wire_format_does_not_match_is_refused(farm_app, setting, value, named):
    farm_app.conf[setting] = value

    with pytest.raises(ValueError, match="built for Celery's defaults") as refused:
        StartMessages(farm_app, broker_db=0)
    assert named in str(refused.value)
