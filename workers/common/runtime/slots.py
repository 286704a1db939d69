"""A pool worker advertises its task slots (its Celery concurrency) while it consumes.

The advert rides Celery's own rhythm: ``heartbeat_sent`` (every ~2 s with ``-E``, the same hook
the probe's heartbeat file uses) renews it for ``slot_advert_ttl_s``, so a worker that dies,
hangs or loses Redis stops counting once its advert expires, with no thread of our own. A
draining worker (SIGTERM) withdraws it at once: its slots are going away.

Admission (the Start script) and the ops capacity route read the sum of the live adverts
(workers.common.domain.slots).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import redis
from celery.signals import celeryd_after_setup, heartbeat_sent, worker_shutting_down

from config.settings import get_settings
from workers.common.domain.redis_client import QUICK_RETRIES, redis_for
from workers.common.domain.services import REGISTRY
from workers.common.domain.slots import SlotBoard
from workers.common.runtime.drain import draining

log = logging.getLogger(__name__)


class Advert:
    """This worker's advert: its pool, node name and slots."""

    def __init__(self, board: SlotBoard, pool: str, node: str, slots: int, ttl_s: float):
        self.board, self.pool, self.node, self.slots, self.ttl_s = board, pool, node, slots, ttl_s
        self.withdrawn = False

    def renew(self) -> None:
        if self.withdrawn or draining.is_set():  # a draining worker never advertises again
            return
        counter = warm_counters.get(self.pool)
        try:
            warm = counter() if counter else None
            self.board.advertise(self.pool, self.node, self.slots, self.ttl_s, warm)
        except redis.RedisError as exc:  # the advert expires: this worker stops counting
            log.warning("slots: could not advertise %s: %s", self.node, exc)

    def withdraw(self) -> None:
        self.withdrawn = True
        try:
            self.board.withdraw(self.pool, self.node)
        except redis.RedisError as exc:  # it expires on its own within ttl_s
            log.warning("slots: could not withdraw %s: %s", self.node, exc)


_adverts: list[Advert] = []
# pool -> how many warm slots this process has ready (a pool that keeps some registers it).
warm_counters: dict[str, Callable[[], int]] = {}


def count_warm(pool: str, counter: Callable[[], int]) -> None:
    """Advertise ``counter()`` ready warm slots of ``pool`` with this worker's slots."""
    warm_counters[pool] = counter


def pools_consumed(queues: Iterable[str]) -> list[str]:
    """The pools whose queue this worker consumes (the reconciler's: none)."""
    consumed = set(queues)
    return [name for name, service in REGISTRY.items() if service.queue in consumed]


@celeryd_after_setup.connect
def _start(sender: str, instance: Any = None, **_: Any) -> None:
    if instance is None:
        return
    # `-Q <pool>`: one pool per worker in the chart and `make run`.
    pools = pools_consumed(instance.app.amqp.queues.consume_from)
    if not pools:
        return
    settings = get_settings()
    board = SlotBoard(redis_for(settings, settings.store_db, QUICK_RETRIES))
    slots, ttl_s = int(instance.concurrency), settings.slot_advert_ttl_s
    _adverts[:] = [Advert(board, pool, sender, slots, ttl_s) for pool in pools]
    _renew()


@heartbeat_sent.connect
def _renew(**_: Any) -> None:
    for advert in _adverts:
        advert.renew()


@worker_shutting_down.connect
def _withdraw(**_: Any) -> None:
    for advert in _adverts:
        advert.withdraw()
