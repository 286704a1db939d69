"""The lease that makes one worker the owner of a task, renewed in the background.

A worker whose renewal finds another epoch (the reconciler gave the task to someone
else while this one was frozen or cut off) must stop at once: ``lost`` is set.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from workers.common.errors import ServiceUnavailable
from workers.common.store import TaskStore

log = logging.getLogger(__name__)


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class LeaseKeeper:
    def __init__(
        self, store: TaskStore, task_id: str, epoch: int, ttl_s: float, renew_s: float
    ) -> None:
        self.store = store
        self.task_id = task_id
        self.epoch = epoch
        self.holder = holder_name()
        self.ttl_s = ttl_s
        self.renew_s = renew_s
        self.lost = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._renew_loop, name=f"lease-{task_id[:8]}")
        self._thread.daemon = True

    def take(self) -> bool:
        if not self.store.take_lease(self.task_id, self.epoch, self.holder, self.ttl_s):
            return False
        self._thread.start()
        return True

    def release(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.renew_s + 1)
        if not self.lost.is_set():
            try:
                self.store.drop_lease(self.task_id, self.epoch, self.holder)
            except ServiceUnavailable:
                log.warning("could not drop lease of %s; it will lapse", self.task_id)

    def _renew_loop(self) -> None:
        while not self._done.wait(self.renew_s):
            try:
                held = self.store.renew_lease(self.task_id, self.epoch, self.holder, self.ttl_s)
            except ServiceUnavailable:
                continue  # Redis restarting: keep trying, the answer decides once it is back
            if not held:
                log.error("lease of task %s epoch %d lost: stopping", self.task_id, self.epoch)
                self.lost.set()
                return
