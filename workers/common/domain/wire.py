"""A task's Celery message as the broker stores it: the bytes kombu's Redis transport would
LPUSH onto the queue's list, so that the store can write a Start's record and its message
in one atomic script (store_scripts.CREATE) and a Celery worker consumes it as its own.

What is built here, field for field (kombu 5 / Celery 5, protocol 2, JSON, no compression):

- the body: ``[args, kwargs, embed]`` as JSON, base64 (the virtual transport's
  ``body_encoding``);
- the headers: Celery's ``amqp.as_task_v2`` for a task whose only argument is the TaskID,
  with the TaskID as the Celery task id (Flower shows the farm's ids);
- the properties: ``correlation_id`` and ``reply_to`` (as_task_v2), ``delivery_mode`` 2
  (persistent), ``delivery_info`` of the anonymous exchange (a direct queue: the routing key
  is the queue), ``priority`` 0, ``body_encoding`` and a fresh ``delivery_tag``
  (``virtual.Channel.basic_publish``);
- the list: the queue's name, suffixed for a priority above 0 (``redis.Channel._q_for_pri``).

tests/unit/test_wire_format.py holds these bytes to kombu's own for the same task, and
tests/integration/test_atomic_start.py to a real worker that runs them. Nothing here
imports Celery or kombu: the dispatcher's Start builds this without either.
"""

from __future__ import annotations

import base64
import json
import uuid
from bisect import bisect
from dataclasses import dataclass

# kombu.transport.redis: Channel.sep (between a queue's name and its priority) and
# PRIORITY_STEPS (a message's priority, rounded down to one of these, picks its list).
PRIORITY_SEP = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)
PERSISTENT = 2  # kombu's delivery_mode for a message that survives a broker restart


@dataclass(frozen=True)
class Publisher:
    """What Celery fills in from the publishing process: ``origin`` is its anon_nodename
    (``gen<pid>@<host>``), ``reply_to`` the app's thread oid."""

    origin: str
    reply_to: str


@dataclass(frozen=True)
class QueuedMessage:
    """A message ready to push: the broker's db, the list, the bytes (as text)."""

    db: int
    key: str
    payload: str


def queue_key(queue: str, priority: int = 0) -> str:
    """The list a message of ``priority`` waits on (kombu's ``_q_for_pri``)."""
    step = PRIORITY_STEPS[bisect(PRIORITY_STEPS, priority) - 1]
    return f"{queue}{PRIORITY_SEP}{step}" if step else queue


def task_message(
    task_id: str,
    task_name: str,
    queue: str,
    publisher: Publisher,
    delivery_tag: str | None = None,
) -> str:
    """The JSON envelope kombu's Redis transport stores for ``task_name(task_id)``."""
    args = [task_id]
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    body = json.dumps([args, {}, embed]).encode()
    envelope = {
        "body": base64.b64encode(body).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": _headers(task_id, task_name, args, publisher.origin),
        "properties": {
            "correlation_id": task_id,
            "reply_to": publisher.reply_to,
            "delivery_mode": PERSISTENT,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": delivery_tag or str(uuid.uuid4()),
        },
    }
    return json.dumps(envelope)


def _headers(task_id: str, task_name: str, args: list[str], origin: str) -> dict[str, object]:
    """Celery's protocol 2 headers (amqp.as_task_v2) of a task sent with no options."""
    return {
        "lang": "py",
        "task": task_name,
        "id": task_id,
        "shadow": None,
        "eta": None,
        "expires": None,
        "group": None,
        "group_index": None,
        "retries": 0,
        "timelimit": [None, None],
        "root_id": task_id,
        "parent_id": None,
        "argsrepr": repr(args),
        "kwargsrepr": "{}",
        "origin": origin,
        "ignore_result": False,
        "replaced_task_nesting": 0,
        "stamped_headers": None,
        "stamps": {},
    }
