"""The lease that makes one worker the owner of a task, renewed in the background.

A worker whose renewal finds another epoch (the reconciler gave the task to someone
else while this one was frozen or cut off) must stop at once: ``lost`` is set.
A worker that was frozen does not wait for the renewal thread to find out: ``confirm()``
asks Redis itself when the last renewal is older than the lease could have lived.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from workers.common.domain.errors import ServiceUnavailable
from workers.common.domain.store import TaskStore

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
        # When the last renewal that succeeded was sent: the lease lives until at least
        # then + ttl. Past ttl - renew_s the renewal thread is late (frozen with us?).
        self._renewed_at = time.monotonic()
        self._doubt_after_s = max(ttl_s - renew_s, renew_s)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._renew_loop, name=f"lease-{task_id[:8]}")
        self._thread.daemon = True

    def take(self) -> bool:
        sent = time.monotonic()
        if not self.store.take_lease(self.task_id, self.epoch, self.holder, self.ttl_s):
            return False
        self._renewed_at = sent
        self._thread.start()
        return True

    def confirm(self) -> bool:
        """True while the lease is ours. After a freeze (the process was stopped, or
        starved) the lease may have lapsed and the task gone to another worker: renew
        here and now, so that the caller does nothing more for a task it lost."""
        if not self.lost.is_set() and time.monotonic() - self._renewed_at > self._doubt_after_s:
            self._renew()
        return not self.lost.is_set()

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
            self._renew()
            if self.lost.is_set():
                return

    def _renew(self) -> None:
        """One renewal (from either thread): a refusal sets ``lost`` for good."""
        sent = time.monotonic()
        try:
            held = self.store.renew_lease(self.task_id, self.epoch, self.holder, self.ttl_s)
        except ServiceUnavailable:
            return  # Redis restarting: keep trying, the answer decides once it is back
        if held:
            self._renewed_at = max(self._renewed_at, sent)
        elif not self.lost.is_set():
            log.error("lease of task %s epoch %d lost: stopping", self.task_id, self.epoch)
            self.lost.set()
