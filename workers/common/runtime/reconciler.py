"""The reconciler (celery beat, every few seconds): gives orphaned tasks to a new worker.

A task a worker claimed whose lease has lapsed (the worker died) gets the next epoch and
goes back on its queue; the new owner continues from the segments already stored, and the
old one, if it comes back, can no longer write (every worker write is fenced by epoch).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable

from celery import shared_task

from config.celery import RECONCILE_TASK
from config.settings import SERVICES, Settings, get_settings
from workers.common.domain.errors import CapstanError
from workers.common.domain.redis_client import redis_for
from workers.common.domain.services import get_service
from workers.common.domain.states import Action
from workers.common.domain.store import NoEpoch, TaskStore
from workers.common.runtime.enqueue import requeue

log = logging.getLogger(__name__)


def reconcile(
    store: TaskStore,
    queue_length: Callable[[str], int] | None = None,
    settings: Settings | None = None,
) -> list[str]:
    """Re-enqueue every owned task nobody holds, and every accepted task whose message was
    lost before a worker claimed it; returns their TaskIDs. The beat task's entry point:
    Settings are read here unless given."""
    requeued = _orphans(store)
    settings = settings or get_settings()
    if queue_length is None:
        queue_length = redis_for(settings, settings.broker_db).llen
    unstarted = requeue_unstarted(
        store, queue_length, settings.unstarted_requeue_s, bool(settings.start_replicas)
    )
    return requeued + unstarted


def requeue_unstarted(
    store: TaskStore,
    queue_length: Callable[[str], int],
    older_than_s: float,
    confirmed_only: bool = False,
) -> list[str]:
    """Tasks accepted long ago that no worker claimed while their queue is empty: their
    message was lost (a worker killed with it prefetched, popped by a master that died).
    Queued again, once per ``older_than_s``; a copy that turns up later finds the task
    held (the lease) or finished, and does nothing. confirmed_only (Start waits for a
    replica): one never confirmed was answered 503 and withdrawn in vain: canceled."""
    requeued = []
    before = time.time() - older_than_s
    for name in SERVICES:
        service = get_service(name)
        if queue_length(service.queue):
            continue  # a backlog: they wait their turn
        for task_id, confirmed in store.unstarted(name, before):
            if confirmed_only and not confirmed:
                with contextlib.suppress(CapstanError):  # started or canceled meanwhile
                    store.control(task_id, name, Action.STOP, service.capturing)
                log.warning("task %s was answered 503 and never started: canceled", task_id)
                continue
            store.mark_requeued(task_id)
            requeue(service, task_id)
            log.warning("task %s was never started (message lost): queued again", task_id)
            requeued.append(task_id)
    return requeued


def _orphans(store: TaskStore) -> list[str]:
    requeued = []
    for task_id in store.owned_tasks():
        epoch = store.bump_epoch(task_id)
        if epoch == NoEpoch.GONE:
            store.forget_owned(task_id)  # gone or terminal
        elif epoch > 0:
            record = store.get(task_id)
            requeue(get_service(record.service), task_id)
            log.warning("task %s had no live worker: re-enqueued with epoch %d", task_id, epoch)
            requeued.append(task_id)
    return requeued


# A shared task: registered on the app that loads this module (config.celery's include),
# so importing it builds no app.
@shared_task(name=RECONCILE_TASK, ignore_result=True)
def reconcile_task() -> list[str]:
    settings = get_settings()  # the beat tick's entry point
    return reconcile(TaskStore(redis_for(settings, settings.store_db)), settings=settings)
