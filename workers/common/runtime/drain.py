"""Draining: on SIGTERM (a rollout, a scale-down) running tasks hand themselves back.

Celery's warm shutdown waits for running tasks; ours notice ``draining``, close and ship
their current segment, give the task back with the next epoch, and return.
"""

from __future__ import annotations

import threading

from celery.signals import worker_shutting_down

draining = threading.Event()


@worker_shutting_down.connect
def _on_shutdown(**_: object) -> None:
    draining.set()
