"""Warm slots: browser stacks a panorama worker keeps ready, so that a Start only opens its
page and starts capturing.

    keeper thread:  build ─▶ ready ─┬─▶ taken by one task (it closes the stack at its end)
                          ▲         └─▶ found dead (its Chromium, Xvfb or PulseAudio gone): closed
                          └── a fresh one, a moment after each take (the Start goes first)

A slot is used once: its Chromium profile (cookies, storage, cache), its audio sink and its
page proxy go with the task that took it, so nothing of one task reaches the next.

Slots are built at the default frame size (the Start's DEFAULT_WIDTH x DEFAULT_HEIGHT): the
X screen and Chromium's window are sized when they start, and a stack per size asked would
keep idle browsers for sizes seldom used. A Start of another size, or one that finds no ready
slot, builds its own stack as before (cold).

One SlotPool per worker process: the farm's workers run Celery's threads pool, so tasks run
in the process that is ready (``worker_ready``); a draining worker (``worker_shutting_down``)
closes its slots. Outside Celery (the bench, tests) ``start_pool`` / ``stop_pool``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from celery.signals import worker_ready, worker_shutdown, worker_shutting_down

from config.settings import Settings, get_settings
from workers.common.domain.services import PANORAMA
from workers.common.domain.specs.panorama import DEFAULT_HEIGHT, DEFAULT_WIDTH
from workers.common.runtime.slots import count_warm
from workers.panorama.builders import Frame
from workers.panorama.stack import BrowserStack

log = logging.getLogger(__name__)

DEFAULT_FRAME = Frame(DEFAULT_WIDTH, DEFAULT_HEIGHT)
CHECK_EVERY_S = 1.0  # how often ready slots are checked for a dead process
SETTLE_S = 2.0  # after a take, the Start's page load and capture start go first
RETRY_MAX_S = 30.0  # a slot that fails to build is tried again, backing off up to this


# Slot stacks are started from this thread, never from the keeper: their processes die with
# the thread that started them (PR_SET_PDEATHSIG, so a killed worker leaves no orphans), and a
# keeper that stops (stop_pool, a draining worker) must not take the slot a task is
# recording with down with it. This thread lasts as long as the process.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="panorama-slot-spawner")


class SlotPool:
    """Keeps ``size`` ready stacks of ``frame``, built by ``build`` in a thread of its own."""

    def __init__(
        self,
        size: int,
        build: Callable[[], BrowserStack],
        frame: Frame = DEFAULT_FRAME,
        *,
        check_every_s: float = CHECK_EVERY_S,
        settle_s: float = SETTLE_S,
    ) -> None:
        self.size = size
        self.frame = frame
        self._build = build
        self._check_every_s = check_every_s
        self._settle_s = settle_s
        self._ready: list[BrowserStack] = []
        self._lock = threading.Lock()
        self._taken = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._keep, name="panorama-slots", daemon=True)

    def start(self) -> SlotPool:
        self._thread.start()
        return self

    @property
    def ready(self) -> int:
        with self._lock:
            return len(self._ready)

    def take(self, frame: Frame) -> BrowserStack | None:
        """A ready, live stack of ``frame`` for one task (it closes it), or None: go cold."""
        if frame != self.frame or self._closed.is_set():
            return None
        while True:
            with self._lock:
                stack = self._ready.pop(0) if self._ready else None
            if stack is None:
                return None
            self._taken.set()  # a fresh one is built in the background
            if alive(stack):
                return stack
            log.warning("panorama: a warm slot had died (%s); replacing it", stack.failure())
            discard(stack)

    def drain(self) -> None:
        """Take no more: the keeper closes the ready slots and stops (does not wait)."""
        self._closed.set()
        self._taken.set()

    def close(self) -> None:
        """Stop building and close the ready slots (taken ones belong to their tasks)."""
        self.drain()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(60)
        self._close_ready()

    def _close_ready(self) -> None:
        with self._lock:
            ready, self._ready = self._ready, []
        for stack in ready:
            stack.close()

    # ---- the keeper ------------------------------------------------------------------

    def _keep(self) -> None:
        failures = 0
        while not self._closed.is_set():
            try:
                failures = self._round(failures)
            except Exception:  # the keeper must not die: the worker would go cold for good
                log.exception("panorama: keeping the warm slots failed; trying again")
                failures += 1
                self._closed.wait(min(RETRY_MAX_S, 2.0**failures))
        self._close_ready()

    def _round(self, failures: int) -> int:
        """Drop dead slots, then wait for a take or build one; the failures in a row."""
        self._drop_dead()
        if self.ready >= self.size:
            if self._taken.wait(self._check_every_s):
                self._taken.clear()
                self._closed.wait(self._settle_s)
            return failures
        if self._add_one():
            return 0
        self._closed.wait(min(RETRY_MAX_S, 2.0 ** (failures + 1)))
        return failures + 1

    def _add_one(self) -> bool:
        try:
            stack = _SPAWNER.submit(self._build).result()
        except Exception as exc:
            log.warning("panorama: a warm slot did not start: %s", exc)
            return False
        with self._lock:
            if not self._closed.is_set():
                self._ready.append(stack)
                log.info("panorama: a warm slot is ready (%d of %d)", len(self._ready), self.size)
                return True
        stack.close()  # closed while it was being built
        return True

    def _drop_dead(self) -> None:
        with self._lock:
            ready = list(self._ready)
        for stack in ready:
            if alive(stack):
                continue
            with self._lock:
                if stack not in self._ready:
                    continue  # taken meanwhile: take() checks it itself
                self._ready.remove(stack)
            log.warning("panorama: a warm slot died (%s); replacing it", stack.failure())
            discard(stack)


def alive(stack: BrowserStack) -> bool:
    """Are the stack's processes all there? (Chromium's death arrives as a Playwright event.)"""
    browser = stack.browser
    if browser is None:
        return False
    try:
        browser.pump()
    except Exception as exc:  # closed meanwhile (taken, and its task already ended)
        log.debug("panorama: a warm slot did not answer: %s", exc)
        return False
    return not stack.failure()


def discard(stack: BrowserStack) -> None:
    """Close a dead slot: what is left of its Chromium (renderers, zygotes) is killed first."""
    if stack.browser is not None:
        stack.browser.kill()
    stack.close()


# ---- the worker's pool ---------------------------------------------------------------


def slots_root(settings: Settings) -> Path:
    return settings.work_dir / "slots"


def build_stack(settings: Settings, frame: Frame = DEFAULT_FRAME) -> BrowserStack:
    """A fresh stack with a home (browser profile) of its own, removed when it closes."""
    root = slots_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=root))
    stack = BrowserStack(frame, settings.chromium, home, settings.url_allowlist, scratch_home=True)
    return stack.start()


def remove_orphans(root: Path) -> None:
    """Slot homes left by a worker process that is gone (killed: it could not close them)."""
    if not root.is_dir():
        return
    for home in root.iterdir():
        pid = home.name.split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(home, ignore_errors=True)


_pool: list[SlotPool] = []  # this process's pool, once started
_pool_lock = threading.Lock()


def start_pool(settings: Settings) -> SlotPool | None:
    """This process's slots (once): None when the setting keeps none."""
    with _pool_lock:
        if not _pool and settings.panorama_warm_slots > 0:
            remove_orphans(slots_root(settings))
            size = settings.panorama_warm_slots
            _pool.append(SlotPool(size, lambda: build_stack(settings)).start())
            log.info("panorama: keeping %d warm slot(s) at %s", size, DEFAULT_FRAME)
        return _pool[0] if _pool else None


def stop_pool() -> None:
    with _pool_lock:
        pools = list(_pool)
        _pool.clear()
    for pool in pools:
        pool.close()


def take(frame: Frame) -> BrowserStack | None:
    """A warm stack for a task of ``frame``, or None (no pool, none ready, another size)."""
    pools = list(_pool)
    return pools[0].take(frame) if pools else None


@worker_ready.connect
def _on_worker_ready(sender: Any, **_: Any) -> None:
    queues = sender.app.amqp.queues.consume_from or {}
    if PANORAMA.queue not in queues:
        return
    if "prefork" in type(getattr(sender, "pool", None)).__module__:
        # Tasks would run in child processes: slots built here would never be taken.
        log.warning("panorama: warm slots need the threads pool; none kept")
        return
    if pool := start_pool(get_settings()):
        # The capacity route shows them (workers.common.runtime.slots, on its heartbeat).
        count_warm(PANORAMA.name, lambda: pool.ready)


@worker_shutting_down.connect
def _on_worker_draining(**_: Any) -> None:
    # In Celery's signal handler: only tell the keeper (it closes the ready slots).
    for pool in list(_pool):
        pool.drain()


@worker_shutdown.connect
def _on_worker_shutdown(**_: Any) -> None:
    try:
        stop_pool()
    except Exception:
        log.exception("panorama: closing the warm slots failed")
