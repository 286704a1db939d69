"""The reconciler (celery beat, every few seconds): gives orphaned tasks to a new worker.

A task a worker claimed whose lease has lapsed (the worker died) gets the next epoch and
goes back on its queue; the new owner continues from the segments already stored, and the
old one, if it comes back, can no longer write (every worker write is fenced by epoch).
"""

from __future__ import annotations

import logging

from config.celery import app
from workers.common.services import get_service
from workers.common.store import TaskStore, default_store

log = logging.getLogger(__name__)


def reconcile(store: TaskStore) -> list[str]:
    """Re-enqueue every owned task nobody holds; returns their TaskIDs."""
    requeued = []
    for task_id in store.owned_tasks():
        epoch = store.bump_epoch(task_id)
        if epoch == -2:
            store.forget_owned(task_id)  # gone or terminal
        elif epoch > 0:
            record = store.get(task_id)
            service = get_service(record.service)
            app.send_task(service.task_name, args=[task_id], queue=service.queue)
            log.warning("task %s had no live worker: re-enqueued with epoch %d", task_id, epoch)
            requeued.append(task_id)
    return requeued


@app.task(name="capstan.reconcile", ignore_result=True)
def reconcile_task() -> list[str]:
    return reconcile(default_store())
